import { closeSync, openSync, renameSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { makeDirectory, makeDirectorySync } from './makeDirectory.js';

import { dirname, basename, join } from 'node:path';
import { holdScratch } from './holdScratch.js';
import { isMissing } from './isMissing.js';
import { uniqueName } from './uniqueName.js';
import { writeAllSync } from './writeAll.js';

export interface WriteFileAtomicOptions {
  /** default 0o644 */
  mode?: number;
  /**
   * fsync the file before it is renamed into place (default). Off only for derived files that can be
   * rebuilt from verified data and check themselves when read (the lock caches, the deb-control cache):
   * a crash may then leave an empty or torn entry at its name, which its reader ignores and rewrites,
   * and the fsync per entry (thousands in a mirror's first build) is saved.
   */
  durable?: boolean;
}

/**
 * Write a file so that readers see either the old or the new content, never a torn one:
 * write a sibling temporary file, fsync it (unless `durable: false`), rename it over the target. `data`
 * may come in parts, written one after the other.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[], { mode = 0o644, durable = true }: WriteFileAtomicOptions = {}): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${uniqueName()}.tmp`);
  const release = holdScratch(tmp);
  try {
    // the folder is made on the first miss, not looked up for every file (derived caches write thousands)
    const create = () => open(tmp, 'wx', mode);
    const fh = await create().catch(async (err: unknown) => {
      if (!isMissing(err)) throw err;
      await makeDirectory(dirname(path));
      return create();
    });
    try {
      if (Array.isArray(data)) for (const part of data) await fh.write(part);
      else await fh.writeFile(data as string | Uint8Array);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    release();
  }
}

/**
 * Write files that belong together (a key pair and its revocation certificate) so that a Ctrl-C or
 * SIGTERM (cli/stopOnInterrupt.ts) leaves all of them old or all new, never a mix: each is written to a
 * sibling temporary file and fsynced, then all are renamed in one turn of the event loop, where no
 * signal handler runs. (A SIGKILL can still fall between two renames of that turn.)
 */
export async function writeFilesAtomic(files: ReadonlyArray<{ path: string; data: string | Uint8Array; mode?: number }>): Promise<void> {
  const tmps = files.map((f) => join(dirname(f.path), `.${basename(f.path)}.${uniqueName()}.tmp`));
  const releases = tmps.map((t) => holdScratch(t));
  try {
    for (const [i, f] of files.entries()) {
      await makeDirectory(dirname(f.path));
      const fh = await open(tmps[i]!, 'wx', f.mode ?? 0o644);
      try {
        await fh.writeFile(f.data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    for (const [i, f] of files.entries()) renameSync(tmps[i]!, f.path);
  } catch (err) {
    await Promise.all(tmps.map((t) => rm(t, { force: true })));
    throw err;
  } finally {
    for (const release of releases) release();
  }
}

/**
 * writeFileAtomic for a small derived entry (`durable: false`) written by the thousand, with blocking
 * calls: each takes a few microseconds, where through the thread pool every step (open, write, close,
 * rename) was a hand-off to a pool thread and back (a mirror's first publish writes one per .deb).
 */
export function writeSmallFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.${uniqueName()}.tmp`);
  const create = () => openSync(tmp, 'wx', mode);
  let fd: number;
  try {
    fd = create();
  } catch (err) {
    if (!isMissing(err)) throw err;
    makeDirectorySync(dirname(path));
    fd = create();
  }
  try {
    try {
      writeAllSync(fd, [typeof data === 'string' ? Buffer.from(data, 'utf8') : data]);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
