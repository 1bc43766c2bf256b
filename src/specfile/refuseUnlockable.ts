import { ResolveError, SpecError } from '../errors.js';

/**
 * What ferry lock pinned, checked as ferry build checks that lock section (`check`: the section's parse
 * and URL checks, whose messages start with one of `prefixes` and end telling to lock again) before the
 * lock is written. An upstream's index decides names, URLs and fields that go into the lock: one the
 * build would refuse (a Filename with a space, an encoded `/` or dot segment, a Priority in upper case)
 * is refused here in one line naming `at` (ResolveError, exit 70), never written into a lock that the
 * build refuses, telling to run ferry lock again, which would write the same. `entry` may name what a
 * message points at by position (`packages[3]`).
 */
export async function refuseUnlockable(at: string, prefixes: readonly string[], check: () => unknown, entry?: (why: string) => string | undefined): Promise<void> {
  try {
    await check();
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    const prefix = prefixes.find((p) => err.message.startsWith(`${p}: `));
    const why = err.message.slice(prefix === undefined ? 0 : prefix.length + 2).replace(/; run ferry lock again[^;]*$/, '');
    const which = entry?.(why);
    throw new ResolveError(`${at}: the upstream's index gives what a lock may not hold: ${why}${which ? ` (${which})` : ''}; refusing it`);
  }
}
