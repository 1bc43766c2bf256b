import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { identityPid, isIdentityAlive } from './processIdentity.js';
import { removeTree } from './removeTree.js';

/**
 * Remove the scratch folders (or files, with `kind` 'file') in `parent` that killed processes left: those whose name `ownerOf` reads the
 * identity of the process that made them from (util/processIdentity.ts: `PID`, `PID.START` or `PID.START.PIDNS`; undefined:
 * not such a name), when that process is gone.
 * Only folders (files) made by this user: a link of such a name is neither followed nor removed, and one
 * whose process still runs is left to it. How many were removed.
 */
export async function sweepDeadScratch(parent: string, ownerOf: (name: string) => string | undefined, kind: 'folder' | 'file' = 'folder'): Promise<number> {
  let swept = 0;
  for (const name of await readdir(parent).catch(() => [])) {
    const owner = ownerOf(name);
    if (owner === undefined || identityPid(owner) === undefined || identityPid(owner) === process.pid || isIdentityAlive(owner)) continue;
    const path = join(parent, name);
    const st = await lstat(path).catch(() => undefined);
    if (!(kind === 'folder' ? st?.isDirectory() : st?.isFile()) || st!.uid !== process.getuid?.()) continue;
    await removeTree(path);
    swept++;
  }
  return swept;
}
