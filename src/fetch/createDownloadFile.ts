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
  /** a second place every written chunk goes (the bundle being built), at `start` + the chunk's offset in the file */
  tee?: DownloadTee;
  /** the offset in the downloaded file of the first chunk written (the bytes kept from an earlier attempt) */
  start?: number;
}

/**
 * Where a download also writes its bytes as they arrive, besides its cache file: the bundle the build fills
 * in place (build/placeBundle.ts), so a blob is not read back from the cache and written a second time.
 */
export interface DownloadTee {
  /**
   * waits until the place is known (the bundle's layout is fixed once its manifest is signed); undefined
   * when the file has no place there
   */
  open(): Promise<{ write(bufs: Buffer[], offset: number): Promise<void> } | undefined>;
  /** every byte of the file went through this tee in one attempt and the file matched its digest */
  placed(): void;
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
  let tee: Awaited<ReturnType<DownloadTee['open']>> | undefined;
  let offset = o.start ?? 0;
  return new Writable({
    highWaterMark: WRITE_AHEAD,
    construct(cb) {
      (async () => {
        await o.before?.();
        fh = await open(file, o.flags, 0o644);
        tee = await o.tee?.open();
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
      if (tee) {
        // both writes settle before the callback (and before destroy closes the file), whichever fails
        const both = [writeAll(fh!, bufs), tee.write(bufs, offset)];
        writing = Promise.allSettled(both).then(() => Promise.all(both)).then(() => {});
      } else {
        writing = writeAll(fh!, bufs);
      }
      for (const b of bufs) offset += b.length;
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
