import { mkdirSync, statSync } from 'node:fs';
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

/**
 * makeDirectory for code that may not wait (a write in one turn of the event loop): the same rule, walked
 * as a loop: up from PATH while mkdir says ENOENT, then down again, each missing folder made a second time.
 */
export function makeDirectorySync(path: string): void {
  const missing: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    const err = tryMkdirSync(p);
    if (err === undefined) break;
    if (err.code !== 'ENOENT' || dirname(p) === p) throw err;
    missing.push(p);
  }
  for (const p of missing.reverse()) {
    const err = tryMkdirSync(p);
    if (err !== undefined) throw err;
  }
}

/** undefined when PATH is a folder now (made, or one already); else mkdir's error */
function tryMkdirSync(path: string): NodeJS.ErrnoException | undefined {
  try {
    mkdirSync(path);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== 'EEXIST') return e;
    try {
      return statSync(path).isDirectory() ? undefined : e;
    } catch {
      return e;
    }
  }
}

async function isFolder(path: string, err: unknown): Promise<void> {
  if (!(await stat(path).then((st) => st.isDirectory(), () => false))) throw err;
}
