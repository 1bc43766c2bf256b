import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive } from './isProcessAlive.js';

/**
 * Remove the scratch folders in `parent` that killed processes left: those whose name `pidOf` reads the
 * PID of the process that made them from (undefined: not such a name), when that process is gone.
 * Only folders made by this user: a link of such a name is neither followed nor removed, and a folder
 * whose process still runs is left to it. How many were removed.
 */
export async function sweepDeadScratch(parent: string, pidOf: (name: string) => number | undefined): Promise<number> {
  let swept = 0;
  for (const name of await readdir(parent).catch(() => [])) {
    const pid = pidOf(name);
    if (pid === undefined || !(pid > 0) || pid === process.pid || isProcessAlive(pid)) continue;
    const path = join(parent, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isDirectory() || st.uid !== process.getuid?.()) continue;
    await rm(path, { recursive: true, force: true });
    swept++;
  }
  return swept;
}
