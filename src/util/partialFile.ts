import { randomBytes } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { IDENTITY_PATTERN, ownIdentity } from './processIdentity.js';
import { sweepDeadScratch } from './sweepDeadScratch.js';

/** drawn once per process: with the identity and a counter, a name no other call returns */
const TAG = randomBytes(4).toString('hex');
let counter = 0;

/**
 * The name a file is written under, beside `target`, until it is complete and renamed into place:
 * `TARGET.pIDENTITY-TAG-N.partial` (p, then this process's identity, util/processIdentity.ts, a random tag, a
 * counter): a name no other call of this or another process returns. One shared `TARGET.partial` let
 * two runs writing the same output (two `ferry sign` of one bundle) write into one file, and a link
 * planted under that name in an output folder was followed. Those a killed process left are removed by
 * sweepDeadPartials.
 */
export function partialPathFor(target: string): string {
  return `${target}.p${ownIdentity()}-${TAG}-${(counter++).toString(36)}.partial`;
}

/** Create a partial file (partialPathFor) with O_EXCL: never through an existing name or a planted link. */
export function openPartial(path: string, mode = 0o644): Promise<FileHandle> {
  return open(path, 'wx', mode);
}

/**
 * Remove the partial files of `target` (with `numbered`, of `TARGET.NUMBER` too: split's volumes) that
 * processes now gone left (a SIGKILL runs no clean-up); those of live processes stay theirs.
 */
export async function sweepDeadPartials(target: string, numbered = false): Promise<void> {
  const prefix = `${basename(target)}.`;
  const re = numbered ? NUMBERED_RE : OWN_RE;
  await sweepDeadScratch(dirname(target), (name) => (name.startsWith(prefix) && name.endsWith(SUFFIX) ? re.exec(name.slice(prefix.length, -SUFFIX.length))?.[1] : undefined), 'file');
}

const SUFFIX = '.partial';
// the `p` keeps a volume's number apart from the identity's pid: `001.p123.456…` is volume 001 of process 123
const OWN_RE = new RegExp(`^p${IDENTITY_PATTERN}-[0-9a-f]{8}-[0-9a-z]+$`);
const NUMBERED_RE = new RegExp(`^\\d{3,}\\.p${IDENTITY_PATTERN}-[0-9a-f]{8}-[0-9a-z]+$`);
