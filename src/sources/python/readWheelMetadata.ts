import { closeSync, fstatSync, openSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';
import { IntegrityError } from '../../errors.js';
import { readFully } from '../../util/readFully.js';

/** METADATA is a few kilobytes; a bigger one is a broken or hostile wheel, not something to buffer. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

/**
 * Bytes read at once: the first read takes the file's last WINDOW bytes, which in a wheel hold the
 * central directory and, as `.dist-info/` is written last, usually METADATA itself.
 */
const WINDOW = 128 * 1024;

type WheelMember = 'METADATA' | 'WHEEL';

/** The METADATA file of a wheel on disk: `NAME-VERSION.dist-info/METADATA` at the top of the zip. */
export async function readWheelMetadata(wheelPath: string, label: string): Promise<string> {
  return (await readWheelFiles(wheelPath, label, ['METADATA'])).METADATA;
}

/**
 * Files of a wheel's `NAME-VERSION.dist-info/` folder (METADATA, WHEEL), read with one pass over the
 * zip's directory. yauzl parses the central directory and each entry's local header; its reads are served by
 * {@link WindowReader} (blocking reads of 128 KiB windows, so a small wheel costs one or two reads
 * whatever its size), and each entry (at most 16 MiB) is inflated with one blocking call, which for a
 * few kilobytes costs far less than a zlib stream and its hand-offs.
 */
export async function readWheelFiles<M extends WheelMember>(wheelPath: string, label: string, members: readonly M[]): Promise<Record<M, string>> {
  const unreadable = (err: Error) => new IntegrityError(`${label}: not a readable wheel (zip): ${err.message}`);
  const reader = new WindowReader(wheelPath);
  try {
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.fromRandomAccessReader(reader, reader.size, { lazyEntries: true, autoClose: false }, (err, z) => (err ? reject(err) : resolve(z))),
    ).catch((err: Error) => {
      throw unreadable(err);
    });
    const found = new Map<M, yauzl.Entry[]>(members.map((m) => [m, []]));
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (e: yauzl.Entry) => {
        const m = /^[^/]+\.dist-info\/([A-Z]+)$/.exec(e.fileName)?.[1] as M | undefined;
        if (m !== undefined) found.get(m)?.push(e);
        zip.readEntry();
      });
      zip.on('end', () => {
        const many = members.find((m) => found.get(m)!.length > 1);
        if (many) reject(new Error(`${found.get(many)!.length} .dist-info/${many} files`));
        else resolve();
      });
      zip.on('error', reject);
      zip.readEntry();
    }).catch((err: Error) => {
      throw unreadable(err);
    });
    const out = {} as Record<M, string>;
    for (const member of members) {
      const entry = found.get(member)![0];
      if (!entry) throw new IntegrityError(`${label}: the wheel has no NAME-VERSION.dist-info/${member}; it is not a valid wheel`);
      const claimed = Math.max(entry.uncompressedSize, entry.compressedSize);
      if (claimed > MAX_METADATA_BYTES) throw new IntegrityError(`${label}: ${member} is ${claimed} bytes; refusing more than ${MAX_METADATA_BYTES}`);
      if (entry.isEncrypted()) throw new IntegrityError(`${label}: ${member} is encrypted; it is not a valid wheel`);
      const method = entry.compressionMethod;
      if (method !== 0 && method !== 8) throw new IntegrityError(`${label}: ${member} uses zip compression method ${method}; a wheel uses stored (0) or deflate (8)`);
      // yauzl checks that the entry's data lies inside the file
      const { fileDataStart } = await new Promise<{ fileDataStart: number }>((resolve, reject) =>
        zip.readLocalFileHeader(entry, { minimal: true }, (err, header) => (err ? reject(err) : resolve(header))),
      ).catch((err: Error) => {
        throw unreadable(err);
      });
      let data: Buffer;
      try {
        const stored = reader.bytes(fileDataStart, entry.compressedSize);
        data = method === 8 ? inflateRawSync(stored, { maxOutputLength: entry.uncompressedSize + 1 }) : stored;
      } catch (err) {
        throw unreadable(err as Error);
      }
      if (data.length !== entry.uncompressedSize) {
        throw new IntegrityError(`${label}: not a readable wheel (zip): ${member} holds ${data.length} bytes, its directory entry says ${entry.uncompressedSize}`);
      }
      out[member] = data.toString('utf8');
    }
    zip.close();
    return out;
  } finally {
    reader.release();
  }
}

/**
 * yauzl's reader of one open file, answering each read from a window of the file read with one
 * blocking call (the wheel was just written or verified, so it is in the page cache; yauzl's own
 * file reader makes a stream per read). Callbacks run as microtasks: yauzl expects them after
 * `read` returns.
 */
class WindowReader extends yauzl.RandomAccessReader {
  readonly size: number;
  private readonly fd: number;
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(path: string) {
    super();
    this.fd = openSync(path, 'r');
    try {
      this.size = fstatSync(this.fd).size;
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  /** `length` bytes from `position`; a range past the end (a directory pointing outside the file) is an error. */
  bytes(position: number, length: number): Buffer {
    if (position + length > this.size) throw new Error(`unexpected end of file: bytes ${position}-${position + length} of a ${this.size}-byte file`);
    if (position < this.windowStart || position + length > this.windowStart + this.window.length) {
      // the first read is the file's tail; later misses read forwards from where they start
      const start = this.window.length === 0 ? Math.max(0, Math.min(position, this.size - WINDOW)) : position;
      const want = Math.min(Math.max(length, WINDOW), this.size - start);
      const buf = Buffer.allocUnsafe(want);
      if (!readFully(this.fd, buf, start)) throw new Error(`the file is shorter than the ${this.size} bytes it had when opened`);
      this.window = buf;
      this.windowStart = start;
    }
    return this.window.subarray(position - this.windowStart, position - this.windowStart + length);
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null, bytesRead?: number) => void): void {
    let err: Error | null = null;
    try {
      this.bytes(position, length).copy(buffer, offset);
    } catch (e) {
      err = e as Error;
    }
    queueMicrotask(() => (err ? callback(err) : callback(null, length)));
  }

  override _readStreamForRange(): never {
    throw new Error('WindowReader serves whole reads only');
  }

  release(): void {
    closeSync(this.fd);
  }
}
