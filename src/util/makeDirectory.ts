import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `mkdir -p`: the folder and its missing parents. Node 20's `mkdir(path, { recursive: true })` never
 * returns where mkdir(2) says ENOENT for a name whose parent exists (a pseudo file system: /proc/x): it
 * makes the parent again, and the name again, for good (seen with strace). Here each folder is tried at
 * most twice, so that error is thrown. A folder already there (or a link to one) is fine; anything else
 * there throws EEXIST, a file on the way ENOTDIR, as mkdir -p would.
 */
export async function makeDirectory(path: string): Promise<void> {
  try {
    await mkdir(path);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return isFolder(path, err);
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw err;
    await makeDirectory(parent);
  }
  try {
    await mkdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return isFolder(path, err);
    throw err;
  }
}

async function isFolder(path: string, err: unknown): Promise<void> {
  if (!(await stat(path).then((st) => st.isDirectory(), () => false))) throw err;
}
