import { closeSync, openSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { keepAtExit } from '../util/holdScratch.js';
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
  /**
   * write into the tee alone, when it has a place for the file (`used` tells afterwards): the file is not
   * written unless the download fails part-way, when the bytes it got are copied from the tee into the
   * file, so the next attempt resumes from them as from any interrupted download
   */
  teeOnly?: { used: boolean };
}

/** Where a tee writes a file's bytes, and reads them back (to keep a failed download's bytes). */
export interface TeeWriter {
  write(bufs: Buffer[], offset: number): Promise<void>;
  /** read with a blocking call (at exit no promise settles any more) */
  readSync(buf: Buffer, offset: number): number;
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
  open(): Promise<TeeWriter | undefined>;
  /**
   * every byte of the file went through this tee in one attempt and the file matched its digest;
   * `only`: the tee is the only place that has them (written with teeOnly, no cache entry was made)
   */
  placed(only: boolean): void;
  /** the download may write into the tee alone (DownloadFileOptions.teeOnly) */
  only?: boolean;
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
  let tee: TeeWriter | undefined;
  const start = o.start ?? 0;
  let offset = start;
  /** the end of what was written (a failed write's bytes are not counted) */
  let written = start;
  let unhook: (() => void) | undefined;
  return new Writable({
    highWaterMark: WRITE_AHEAD,
    construct(cb) {
      (async () => {
        await o.before?.();
        tee = await o.tee?.open();
        if (tee && o.teeOnly) {
          o.teeOnly.used = true;
          // stopped (Ctrl-C, SIGTERM) part-way: the bytes got so far are kept in the file, for the next run
          const from = tee;
          unhook = keepAtExit(() => keepFromTee(file, o.flags, from, start, written));
        } else fh = await open(file, o.flags, 0o644);
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
      if (!fh) {
        writing = tee!.write(bufs, offset);
      } else if (tee) {
        // both writes settle before the callback (and before destroy closes the file), whichever fails
        const both = [writeAll(fh!, bufs), tee.write(bufs, offset)];
        writing = Promise.allSettled(both).then(() => Promise.all(both)).then(() => {});
      } else {
        writing = writeAll(fh!, bufs);
      }
      for (const b of bufs) offset += b.length;
      const end = offset;
      writing.then(
        () => {
          written = end;
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
      (o.sync && fh ? fh.sync() : Promise.resolve()).then(() => cb(), cb);
    },
    destroy(err, cb) {
      (async () => {
        await writing?.catch(() => {});
        unhook?.();
        if (!fh && tee && err) {
          try {
            keepFromTee(file, o.flags, tee, start, written);
          } catch {
            /* kept what could be: the rest is downloaded again */
          }
        }
        await fh?.close();
      })().then(
        () => cb(err),
        (closeErr: Error) => cb(err ?? closeErr),
      );
    },
  });
}

/**
 * A download that wrote into its tee alone stopped part-way (failed, or the process is exiting: then before
 * the tee's partial bundle is removed): copy the bytes it got (start..end of the file) from the tee into the
 * file, so they are kept like any interrupted download's, and the next attempt resumes from them. Blocking
 * calls, as the exit needs; on a failure they hold the event loop for one copy of at most the bytes received
 * (the page cache still has them), on a path where the download is retried anyway.
 */
function keepFromTee(file: string, flags: DownloadFileOptions['flags'], tee: TeeWriter, start: number, end: number): void {
  if (end <= start) return;
  const fd = openSync(file, flags, 0o644);
  try {
    const buf = Buffer.allocUnsafe(Math.min(WRITE_AHEAD, end - start));
    for (let at = start; at < end; ) {
      const n = tee.readSync(buf.subarray(0, Math.min(buf.length, end - at)), at);
      if (n === 0) break;
      for (let w = 0; w < n; ) w += writeSync(fd, buf, w, n - w);
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}
