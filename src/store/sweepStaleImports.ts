import type { Dirent } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkStorePath } from './checkStorePath.js';
import { scratchOwner } from './scratchOwner.js';

/**
 * Remove scratch folders (imports, gc) whose process is gone (killed, crashed, power loss).
 * Each writes its pid into its folder; a live pid keeps its folder, so concurrent imports are safe.
 * A link in STORE/.tmp is refused, never followed. With `dryRun`, only counts what it would remove.
 */
export async function sweepStaleImports(tmpDir: string, opts: { dryRun?: boolean } = {}): Promise<number> {
  let names: Dirent[];
  try {
    names = await readdir(tmpDir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let swept = 0;
  for (const name of names) {
    const dir = join(tmpDir, name.name);
    // a planted link is refused: its "pid" would be read, and its target removed, out of the store
    if (name.isSymbolicLink()) await checkStorePath(dir, 'folder');
    if ((await scratchOwner(dir)) !== undefined) continue;
    if (!opts.dryRun) await rm(dir, { recursive: true, force: true });
    swept++;
  }
  return swept;
}
