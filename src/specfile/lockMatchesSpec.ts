import { SpecError } from '../errors.js';
import { canonicalJson } from '../util/canonicalJson.js';

/**
 * A lock is reviewed text that `build --locked` follows: it may pin what the spec leaves open (a
 * commit, a digest, a version) but never choose what the spec chose (where to fetch from, which
 * folder to pack, what an entry is called, where its file goes). `expected` is what the spec says,
 * one item per entry in the lock's order; `actual` is the same fields read from the lock. Anything
 * else (a hand-edited name like `../../x`, a source on another host, a folder the spec does not name)
 * is refused before anything is fetched or written.
 */
export function lockMatchesSpec(kind: string, expected: unknown[], actual: unknown[]): void {
  if (expected.length !== actual.length) {
    throw new SpecError(`lock: the ${kind} section has ${actual.length} entries, the spec gives ${expected.length}; run ferry lock again and review the diff`);
  }
  for (let i = 0; i < expected.length; i++) {
    const want = encode(expected[i]);
    const got = encode(actual[i]);
    if (want !== got) {
      throw new SpecError(`lock: ${kind}[${i}] is ${clip(got)}, the spec gives ${clip(want)}; run ferry lock again and review the diff`);
    }
  }
}

/** A lock's object fields as a plain record (a lock that is not one is refused). */
export function lockEntries(kind: string, section: unknown): Array<Record<string, unknown>> {
  if (!Array.isArray(section) || !section.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e))) {
    throw new SpecError(`lock: the ${kind} section is not a list of entries; run ferry lock again`);
  }
  return section as Array<Record<string, unknown>>;
}

/** The entry without the fields the lock pins (which the kind checks itself). */
export function withoutPins(entry: Record<string, unknown>, pins: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entry).filter(([k]) => !pins.includes(k)));
}

/** Keys sorted, as the lock file writes them; a value canonical JSON cannot hold is shown as such. */
function encode(v: unknown): string {
  try {
    return canonicalJson(v).trimEnd();
  } catch {
    return String(v);
  }
}

function clip(s: string | undefined): string {
  const t = (s ?? 'nothing').replace(/[\p{C}]/gu, '?');
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}
