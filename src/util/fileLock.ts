import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { holdScratch } from './holdScratch.js';
import { identityPid, isIdentityAlive, ownIdentity } from './processIdentity.js';

export interface FileLockOptions {
  /** before the lock found there is read: false when it is gone meanwhile; throws on what is no lock file (a planted link or folder) */
  check(lock: string): Promise<boolean>;
  /** a live process holds the lock: throw to give up, or return to wait and try again */
  busy(holder: number, attempt: number): void;
}

/**
 * Take the lock file `lock` (created with O_EXCL, holding this process's identity, util/processIdentity.ts);
 * resolves to its release. A lock whose holder is gone (a crash, a SIGKILL) is taken over. The lock appears
 * with its holder in it (written once under a name of its own, then linked at each try): a lock that was
 * created empty and then written could be left empty by a kill in between, and nothing could tell it from
 * one being written.
 */
export async function takeFileLock(lock: string, opts: FileLockOptions): Promise<() => Promise<void>> {
  const mine = `${lock}.${randomBytes(6).toString('hex')}`;
  // a Ctrl-C while waiting removes it too (holdScratch.ts)
  const release = holdScratch(mine);
  try {
    // in the try: a full disk can leave it created but empty
    await writeFile(mine, `${ownIdentity()}\n`, { flag: 'wx', mode: 0o644 });
    for (let attempt = 0; ; attempt++) {
      try {
        await link(mine, lock);
        return () => rm(lock, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (!(await opts.check(lock))) continue; // released meanwhile
      const text = await readFile(lock, 'utf8').catch(() => undefined);
      if (text === undefined) continue; // released meanwhile
      const holder = identityPid(text);
      // a lock that names no process (left empty by an older ferry), or a dead one (or one whose pid was given to
      // a new process since), is a crashed holder's
      if (holder === undefined || !isIdentityAlive(text)) {
        await takeOverStaleLock(lock, text);
        continue;
      }
      opts.busy(holder, attempt);
      await new Promise((r) => setTimeout(r, Math.min(5 + attempt * 2, 50)));
    }
  } finally {
    await rm(mine, { force: true });
    release();
  }
}

/**
 * Remove a lock whose holder is gone. Two processes can both judge the same lock stale: removed by name,
 * the slower one would remove the lock the faster one had just taken, and both would hold it. So the lock
 * is first renamed to a name of this process's own: if what moved is not the stale lock that was judged,
 * it is someone's new lock, and it is linked back (link, unlike rename, never replaces a lock taken since).
 */
export async function takeOverStaleLock(lock: string, judged: string): Promise<void> {
  const moved = `${lock}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(lock, moved);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else took it over first
    throw err;
  }
  const text = await readFile(moved, 'utf8').catch(() => judged);
  if (text !== judged) await link(moved, lock).catch(() => {});
  await rm(moved, { force: true });
}
