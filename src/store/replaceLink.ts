import { randomBytes } from 'node:crypto';
import { rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StoreError } from '../errors.js';
import { holdScratch } from '../util/holdScratch.js';

/**
 * Point the symlink `link` at `target` atomically: a new link renamed over the old one, so a web server
 * following it sees the old or the new target, never a gap.
 */
export async function replaceLink(link: string, target: string): Promise<void> {
  const tmp = join(dirname(link), `.${basename(link)}.${randomBytes(6).toString('hex')}.tmp`);
  const release = holdScratch(tmp);
  await symlink(target, tmp);
  try {
    await rename(tmp, link);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new StoreError(`cannot replace ${link}: ${(err as Error).message}`, { cause: err });
  } finally {
    release();
  }
}
