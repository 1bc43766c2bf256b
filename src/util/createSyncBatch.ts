import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import pMap from 'p-map';
import { isMissing } from './isMissing.js';
import { fsyncDir } from './fsyncDir.js';

/** Files synced at once: enough to keep the disk's queue full, few enough to leave the thread pool to other work. */
const AT_ONCE = 4;

/** Files written now and made durable later, in one pass (see createSyncBatch). */
export interface SyncBatch {
  /** a file (already at its final name) to sync in the next flush, and its folder */
  add(file: string): void;
  /** fsync every file added since the last flush, then their folders; a file removed meanwhile is skipped */
  flush(): Promise<void>;
}

/**
 * One fsync pass over many files instead of one fsync per file as each is written. A download that
 * waits for its own fsync before the next one starts holds the network idle while the disk writes; the
 * pass at the end lets the page cache absorb the writes and then waits once, for all of them (and the
 * kernel writes them back meanwhile). What a crash before the pass can leave: a file at its final name
 * whose bytes did not reach the disk. Callers must detect that on the next use (the download cache checks
 * each entry's size, and the build hashes every cache entry it packs).
 */
export function createSyncBatch(): SyncBatch {
  let files = new Set<string>();
  return {
    add(file) {
      files.add(file);
    },
    async flush() {
      const batch = [...files];
      files = new Set();
      await pMap(batch, syncFile, { concurrency: AT_ONCE });
      await pMap(new Set(batch.map((f) => dirname(f))), (dir) => fsyncDir(dir).catch(ignoreMissing), { concurrency: AT_ONCE });
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
