import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { scratchOwner } from './scratchOwner.js';

/**
 * Remove scratch folders (imports, gc) whose process is gone (killed, crashed, power loss).
 * Each writes its pid into its folder; a live pid keeps its folder, so concurrent imports are safe.
 */
export async function sweepStaleImports(tmpDir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(tmpDir);
  } catch {
    return 0;
  }
  let swept = 0;
  for (const name of names) {
    const dir = join(tmpDir, name);
    if ((await scratchOwner(dir)) !== undefined) continue;
    await rm(dir, { recursive: true, force: true });
    swept++;
  }
  return swept;
}
