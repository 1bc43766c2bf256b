import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import pMap from 'p-map';
import { isMissing } from './isMissing.js';
import { fsyncDir } from './fsyncDir.js';
import { syncFileSystem } from './syncFileSystem.js';

/** Files synced at once: enough to keep the disk's queue full, few enough to leave the thread pool to other work. */
const AT_ONCE = 4;
/** Files of this size or more are synced as soon as they are added, one at a time, in the background. */
const SYNC_EARLY = 8 << 20;
/**
 * A pass over this many files or more is one syncfs of their file system instead of an fsync each: ext4
 * commits its journal once for all of them, where each fsync of a new file is a commit of its own (a
 * mirror's 1,136 small .debs: ~0.5 s of fsyncs that held the thread pool while the bundle was packed).
 */
const SYNC_FILE_SYSTEM = 64;

/** Files written now and made durable later, in one pass (see createSyncBatch). */
export interface SyncBatch {
  /**
   * a file (already at its final name) to sync in the next flush, and its folder; one of `bytes` >= 8 MiB
   * is synced right away in the background instead (the flush waits for it)
   */
  add(file: string, bytes?: number): void;
  /**
   * make every file added since the last flush durable, and their folders (an fsync each, or one syncfs
   * for many); a file removed meanwhile is skipped
   */
  flush(): Promise<void>;
}

/**
 * One fsync pass over many files instead of one fsync per file as each is written. A download that
 * waits for its own fsync before the next one starts holds the network idle while the disk writes; the
 * pass at the end lets the page cache absorb the writes and then waits once, for all of them. Large files
 * are the exception: each is synced as soon as it is added, one at a time on one thread of the pool, so
 * the disk writes back while later downloads run instead of all of it in the pass (where packing the
 * bundle competed with it); downloads never wait for these. A pass over many small files is one syncfs of
 * their file system instead (SYNC_FILE_SYSTEM), which also flushes other pending writes there, as `sync`
 * does. What a crash before the pass can leave: a
 * file at its final name whose bytes did not reach the disk. Callers must detect that on the next use (the
 * download cache checks each entry's size, and the build hashes every cache entry it packs).
 */
export function createSyncBatch(): SyncBatch {
  let files = new Set<string>();
  let dirs = new Set<string>();
  let early: Promise<void> = Promise.resolve();
  let earlyFailure: { error: unknown } | undefined;
  return {
    add(file, bytes = 0) {
      dirs.add(dirname(file));
      if (bytes < SYNC_EARLY) {
        files.add(file);
        return;
      }
      early = early.then(() =>
        syncFile(file).catch((error: unknown) => {
          earlyFailure ??= { error };
        }),
      );
    },
    async flush() {
      const batch = [...files];
      const folders = [...dirs];
      files = new Set();
      dirs = new Set();
      await early;
      if (earlyFailure) throw earlyFailure.error;
      if (batch.length >= SYNC_FILE_SYSTEM) {
        // one syncfs per file system (each folder named; the same file system again costs nothing): every
        // file's data and folder entry in one journal commit; a folder removed meanwhile has nothing left
        const present = folders.filter((dir) => existsSync(dir));
        if (present.length > 0) await syncFileSystem(present, 'the downloads are in the cache but may not survive a crash; check the disk and run the command again');
        return;
      }
      await pMap(batch, syncFile, { concurrency: AT_ONCE });
      await pMap(folders, (dir) => fsyncDir(dir).catch(ignoreMissing), { concurrency: AT_ONCE });
    },
  };
}

async function syncFile(file: string): Promise<void> {
  const fh = await open(file, 'r').catch(ignoreMissing);
  if (!fh) return;
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

function ignoreMissing(err: unknown): undefined {
  if (isMissing(err)) return undefined;
  throw err;
}
