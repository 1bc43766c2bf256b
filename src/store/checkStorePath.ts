import { lstat, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from '../errors.js';

export type StorePathKind = 'folder' | 'file';

/**
 * lstat a path of the store's own layout (a top folder, a ref, a bundle folder, a blob) and insist it is
 * what ferry makes there: a real folder or a regular file, never a symbolic link. A link planted there
 * would lead ferry's reads, writes and removals (gc removes whole trees) out of the store, so it is
 * refused, not followed. Returns undefined when nothing is there.
 */
export async function checkStorePath(path: string, kind: StorePathKind): Promise<Stats | undefined> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new StoreError(`${path}: a folder on its way is not a folder; the store is damaged, repair it by hand`);
    throw err;
  }
  if (st.isSymbolicLink()) {
    throw new StoreError(`${path} is a symbolic link: ferry never makes one there and does not follow it out of the store; remove the link (move the real ${kind} into the store if it is needed)`);
  }
  if (kind === 'folder' ? !st.isDirectory() : !st.isFile()) {
    throw new StoreError(`${path} should be a ${kind === 'folder' ? 'folder' : 'regular file'} but is not; the store is damaged, move it away`);
  }
  return st;
}

/**
 * checkStorePath for an entry's file of a stored bundle tree (bundles/DIGEST/PATH): the folders on its way
 * from the tree are real folders too. lstat looks at the last name only, so a folder of the tree replaced by a
 * link (files/app -> /etc) led every read, and the rewrite that mends a damaged file, through it: out of the
 * store. `folders` holds those found sound already (one tree, one pass), so each is looked at once.
 */
export async function checkStoreTreeFile(tree: string, path: string, folders: Set<string> = new Set()): Promise<Stats | undefined> {
  let at = tree;
  for (const part of path.split('/').slice(0, -1)) {
    at = join(at, part);
    if (folders.has(at)) continue;
    if (!(await checkStorePath(at, 'folder'))) return undefined;
    folders.add(at);
  }
  return checkStorePath(join(tree, path), 'file');
}

/**
 * The store a command reads (list, mirror, serve, gc, audit verify): a folder that is there. A path where
 * nothing is (a typo in --store or FERRY_STORE) is refused in one line, as import or gc refuse a store they
 * cannot use, instead of being read as a store that holds nothing ("no releases", exit 0).
 */
export async function requireStoreFolder(storeDir: string): Promise<void> {
  const st = await stat(storeDir).catch((err: NodeJS.ErrnoException) => {
    const code = err.code ?? err.message;
    if (code === 'ENOENT') throw new StoreError(`store ${storeDir} does not exist: run ferry import first`, { cause: err }); // as resolveRelease says it
    const why = code === 'ENOTDIR' ? 'ENOTDIR: a folder on its way is not a folder' : code;
    throw new StoreError(`${storeDir}: cannot read the store (${why}); check --store (or FERRY_STORE)`, { cause: err });
  });
  if (!st.isDirectory()) throw new StoreError(`${storeDir} is not a folder, so not a store; check --store (or FERRY_STORE)`);
}
