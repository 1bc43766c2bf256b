import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { writeAll } from '../util/writeAll.js';

/** Bytes received and not yet written, above which the sender waits for the disk (back-pressure). */
const WRITE_AHEAD = 1 << 20;

export interface DownloadFileOptions {
  flags: 'a' | 'w' | 'wx';
  /** sees every chunk before it is written (hash, count, size checks); throws to refuse the rest */
  take: (chunk: Buffer) => void;
  /** fsync before the stream finishes (else the caller syncs the file later, see createSyncBatch) */
  sync: boolean;
  /** runs before the file is opened (e.g. remove a partial that is to be replaced, write its metadata) */
  before?: () => Promise<void>;
}

/**
 * The file a download streams into. What arrives while a write is running is gathered into the next
 * one (Writable's writev), so a body that comes in 64 KiB socket reads costs a few large writes, not one
 * thread-pool round trip per chunk; the sender waits while more than WRITE_AHEAD bytes wait for the disk.
 * A chunk `take` refuses is not written: the stream fails with take's error.
 *
 * The stream alone owns the file handle and closes it once the write in progress has settled, whatever
 * ends it (the last byte, a refused chunk, an aborted download, a failed write): a handle closed, or left
 * to the garbage collector, while a write was pending is what hung an earlier version.
 */
export function createDownloadFile(file: string, o: DownloadFileOptions): Writable {
  let fh: FileHandle | undefined;
  let writing: Promise<void> | undefined;
  return new Writable({
    highWaterMark: WRITE_AHEAD,
    construct(cb) {
      (async () => {
        await o.before?.();
        fh = await open(file, o.flags, 0o644);
      })().then(() => cb(), cb);
    },
    writev(chunks, cb) {
      const bufs = chunks.map((c) => c.chunk as Buffer);
      try {
        for (const b of bufs) o.take(b);
      } catch (err) {
        cb(err as Error);
        return;
      }
      writing = writeAll(fh!, bufs);
      writing.then(
        () => {
          writing = undefined;
          cb();
        },
        (err: Error) => {
          writing = undefined;
          cb(err);
        },
      );
    },
    final(cb) {
      (o.sync ? fh!.sync() : Promise.resolve()).then(() => cb(), cb);
    },
    destroy(err, cb) {
      (async () => {
        await writing?.catch(() => {});
        await fh?.close();
      })().then(
        () => cb(err),
        (closeErr: Error) => cb(err ?? closeErr),
      );
    },
  });
}
