import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkStorePath } from './checkStorePath.js';
import { scratchOwner } from './scratchOwner.js';

/** What a refusal over a live scratch folder adds: its owner may be a process this one cannot see (util/processIdentity.ts). */
export const LIVE_SCRATCH_NOTE = 'a process of another container counts as running: if none runs, remove that folder';

/** Scratch folders of STORE/.tmp named PREFIX-* whose owner is alive (running imports, a running gc). */
export async function findLiveScratch(tmpDir: string, prefix: string): Promise<Array<{ dir: string; pid: number }>> {
  const names = await readdir(tmpDir, { withFileTypes: true }).catch(() => []);
  const out: Array<{ dir: string; pid: number }> = [];
  for (const name of names.filter((n) => n.name.startsWith(`${prefix}-`))) {
    const dir = join(tmpDir, name.name);
    if (name.isSymbolicLink()) await checkStorePath(dir, 'folder'); // refused, never followed
    const pid = await scratchOwner(dir);
    if (pid !== undefined && pid !== process.pid) out.push({ dir, pid });
  }
  return out;
}
