import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Remove scratch folders of imports whose process is gone (killed, crashed, power loss).
 * Each import writes its pid into its folder; a live pid keeps its folder, so concurrent imports are safe.
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
    const pid = Number((await readFile(join(dir, 'pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0 && pid !== process.pid && isAlive(pid)) continue;
    if (pid === process.pid) continue;
    await rm(dir, { recursive: true, force: true });
    swept++;
  }
  return swept;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
