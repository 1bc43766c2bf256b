import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';

export interface WalkEntry {
  /** path inside the tree: "." for the root, else "./a/b" */
  path: string;
  /** absolute path on disk */
  file: string;
  stat: Stats;
}

/** Names compare as their UTF-8 bytes, as C's strcmp and `tar --sort=name` compare them, not by UTF-16 units. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Every entry under `root`, depth first, each folder's entries sorted by name: the same order
 * whatever order the file system lists them in. Symbolic links are reported, never followed.
 * The entries of one folder are stat'ed together (the thread pool overlaps the system calls).
 */
export async function* walkDirectorySorted(root: string): AsyncGenerator<WalkEntry> {
  const rootStat = await lstat(root);
  yield { path: '.', file: root, stat: rootStat };
  yield* walkChildren(root, '.');
}

async function* walkChildren(dir: string, rel: string): AsyncGenerator<WalkEntry> {
  const names = (await readdir(dir)).sort(compareNames);
  const entries = await Promise.all(
    names.map(async (name) => {
      const file = join(dir, name);
      return { path: `${rel}/${name}`, file, stat: await lstat(file) };
    }),
  );
  for (const e of entries) {
    yield e;
    if (e.stat.isDirectory()) yield* walkChildren(e.file, e.path);
  }
}
