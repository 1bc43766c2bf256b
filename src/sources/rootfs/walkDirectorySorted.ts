import { readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

export interface WalkEntry {
  /** path inside the tree: "." for the root, else "./a/b" */
  path: string;
  /** absolute path on disk */
  file: string;
  /** what the folder listing says it is (the file's own stat is the caller's to take, after opening it) */
  type: 'file' | 'directory' | 'other';
}

/**
 * A folder's names in the order of their UTF-8 bytes, as C's strcmp and `tar --sort=name` compare them,
 * not by UTF-16 units. Each name is encoded once, not at every comparison (a folder of n names costs n
 * encodings instead of about 2 n log n).
 */
function sortEntries(entries: Dirent[]): Dirent[] {
  return entries
    .map((entry) => ({ entry, bytes: Buffer.from(entry.name, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((n) => n.entry);
}

/**
 * Every entry under `root`, depth first, each folder's entries sorted by name: the same order
 * whatever order the file system lists them in. Symbolic links are reported, never followed. The
 * listing's types (d_type; node asks lstat where a file system leaves it out) decide where to descend,
 * so no entry is looked up by path here: a packer opens a file and asks the open file, one path
 * lookup per file instead of two (a third of the system time on a tree of small files).
 *
 * Synchronous on purpose: a tree of small files is bound by system calls, and issuing them
 * directly (as GNU tar does) was 3-4x faster than the thread pool's promise round trips, which
 * also compete with the compressor for the pool's threads.
 */
export function* walkDirectorySorted(root: string): Generator<WalkEntry> {
  yield { path: '.', file: root, type: 'directory' };
  yield* walkChildren(root, '.');
}

function* walkChildren(dir: string, rel: string): Generator<WalkEntry> {
  for (const dirent of sortEntries(readdirSync(dir, { withFileTypes: true }))) {
    const file = join(dir, dirent.name);
    const type = dirent.isFile() ? 'file' : dirent.isDirectory() ? 'directory' : 'other';
    const entry: WalkEntry = { path: `${rel}/${dirent.name}`, file, type };
    yield entry;
    if (type === 'directory') yield* walkChildren(file, entry.path);
  }
}
