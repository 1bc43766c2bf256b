import { constants, readSync, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IntegrityError, StoreError } from '../errors.js';
import { sha256Hex } from '../util/sha256.js';
import { evaluatePreconditions } from './evaluatePreconditions.js';
import { isMissing } from '../util/isMissing.js';
import { parseRange } from './parseRange.js';
import { sendPlainStatus } from './sendPlainStatus.js';
import { cachedFile, type CachedFile, type SmallFileCache } from './smallFileCache.js';

export interface StoreFile {
  /** absolute path under the store's real path */
  file: string;
  /** the real folder (ending in "/") the file's real path must stay inside */
  within: string;
  /** hex digest from the manifest (or the blob's name): the strong ETag */
  sha256: string;
  /**
   * size from the manifest; a file of another size is a damaged store, never served. Without it (a blob asked
   * for by its hash), a large file is hashed before its first byte is sent, once per worker while it is unchanged
   */
  size?: number;
  contentType: string;
  cacheControl: string;
  /**
   * Reached through a name that can be re-pointed (a release, /mirrors/NAME/): when the name last changed.
   * Last-Modified is the later of it and the file's time, so a name moved to an older file never goes back in
   * time (a client that sends only If-Modified-Since was answered 304 and kept the content of before).
   */
  changed?: Date;
  /** no modification date (a registry tag, which moves as releases come and go): no Last-Modified, date conditions ignored */
  undated?: boolean;
  /** how a file that is not there is answered (default: the plain 404); returns the body bytes sent */
  sendNotFound?: (req: IncomingMessage, res: ServerResponse) => number;
}

/** What was answered, for the access log. */
export interface SendResult {
  status: number;
  bytes: number;
  range?: string;
  aborted?: boolean;
  /** set when the file was refused (404) for a reason worth logging */
  reason?: string;
}

/** Bodies up to this size are read with one read() and sent with end(): no stream set-up per small index file. */
const SINGLE_READ_MAX = 64 * 1024;
/**
 * Larger bodies are streamed in chunks of this size with back-pressure: a chunk is read only when
 * the socket has taken the previous one, so memory per download stays at one chunk whatever the
 * file size (streamRange: and at a small one beyond the worker's pool). One 256 MiB blob to one client took 0.24-0.27 s in 256 KiB chunks, 0.17-0.18 s in 512 KiB,
 * 0.15-0.18 s in 1 MiB, against 0.11-0.15 s from docker-registry, which sends with sendfile (curl on
 * loopback, 2026-12-02). Each chunk is read with a blocking call (streamRange says why).
 */
const CHUNK = 512 * 1024;

/** Writes the selected bytes [start, end] of the body; resolves with what reached the socket. */
type BodyWriter = (start: number, end: number) => Promise<{ bytes: number; aborted?: boolean }>;

/**
 * Send one file of the store with ETag, Last-Modified, HEAD, conditional requests and a single Range.
 * The path is resolved with realpath and must stay inside `within` (a link planted in the store cannot
 * lead out of it); the file is then opened with O_NOFOLLOW and must be a regular file of the recorded
 * size. Small files are checked against their sha256 before they are sent (once, when `cache` then keeps them).
 */
export async function sendStoreFile(req: IncomingMessage, res: ServerResponse, f: StoreFile, cache?: SmallFileCache): Promise<SendResult> {
  const hit = cache?.get(f.sha256);
  if (hit) return sendEntity(req, res, f, hit, writeBuffer(res, hit.data));

  let real: string;
  try {
    real = await realpath(f.file);
  } catch (err) {
    if (isMissing(err)) return notFound(req, res, f, 'no such file in the store');
    throw err;
  }
  if (!real.startsWith(f.within)) return notFound(req, res, f, `resolves outside ${f.within}`);
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') return notFound(req, res, f, 'no such file in the store');
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return notFound(req, res, f, 'not a regular file');
    if (f.size !== undefined && st.size !== f.size) {
      throw new StoreError(`${f.file} has ${st.size} bytes but its manifest says ${f.size}: the store is damaged; re-import the bundle`);
    }
    // a small file is checked against its sha256 before it is sent, kept in memory or not (--cache 0)
    if (st.size <= (cache?.maxFileSize ?? SINGLE_READ_MAX)) {
      const data = await readExactly(fh, 0, st.size, f.file);
      const actual = sha256Hex(data);
      if (actual !== f.sha256) throw new IntegrityError(`${f.file} has sha256 ${actual} but its manifest says ${f.sha256}: the store is damaged; re-import the bundle`);
      const entry = cachedFile(f.sha256, data, st.mtime);
      cache?.set(f.sha256, entry);
      return sendEntity(req, res, f, entry, writeBuffer(res, data));
    }
    if (f.size === undefined) await verifyOnce(fh, st, f);
    const entity = { size: st.size, mtime: st.mtime, etag: `"${f.sha256}"`, lastModified: st.mtime.toUTCString() };
    return await sendEntity(req, res, f, entity, async (start, end) => {
      const length = end - start + 1;
      if (length <= SINGLE_READ_MAX) return writeBuffer(res, await readExactly(fh, start, length, f.file))(0, length - 1);
      return streamRange(fh, res, start, end, f.file);
    });
  } finally {
    await fh.close();
  }
}

/** Large files of no known size whose bytes were hashed, by sha256: the file's identity then (verifyOnce). */
const verified = new Map<string, string>();
/** hashes in progress, by sha256 and identity: requests of one file at once share one read */
const verifying = new Map<string, Promise<void>>();
const VERIFIED_MAX = 65_536;

/**
 * A file served by its name alone (/blobs/sha256/HEX) has no manifest entry giving its size, and a large one
 * was sent as it was: a blob truncated or overwritten in the store went out, whole and 200, under a name its
 * bytes do not hash to. It is hashed now, before anything is sent, and then not again while its identity (device,
 * inode, size, modification and change times) stays the same; any write to it changes the change time.
 */
async function verifyOnce(fh: FileHandle, st: Stats, f: StoreFile): Promise<void> {
  const identity = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  if (verified.get(f.sha256) === identity) return;
  const key = `${f.sha256} ${identity}`;
  let check = verifying.get(key);
  if (!check) {
    check = (async () => {
      const hash = createHash('sha256');
      const buf = Buffer.allocUnsafe(CHUNK);
      for (let position = 0; position < st.size; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, st.size - position), position);
        if (bytesRead === 0) throw new StoreError(`${f.file} became shorter while it was read: the store is being modified`);
        hash.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
        position += bytesRead;
      }
      const actual = hash.digest('hex');
      if (actual !== f.sha256) throw new IntegrityError(`${f.file} has sha256 ${actual} but is named ${f.sha256}: the store is damaged; re-import the bundle that carries it`);
      if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
      verified.set(f.sha256, identity);
    })().finally(() => verifying.delete(key));
    verifying.set(key, check);
  }
  await check;
}

/**
 * The modification date an answer carries, and its Last-Modified value: the file's, or when the name it was
 * reached through changed later, that change's (formatted per request only then); none when `undated`.
 */
export function lastModifiedOf(f: StoreFile, entity: { mtime: Date; lastModified: string }): { time: Date; header: string } | undefined {
  if (f.undated) return undefined;
  if (f.changed === undefined || f.changed.getTime() <= entity.mtime.getTime()) return { time: entity.mtime, header: entity.lastModified };
  return { time: f.changed, header: f.changed.toUTCString() };
}

/** What the headers of an answer need to know of the file (a cached small file has it all). */
type Entity = Omit<CachedFile, 'data'> & { size?: number };

/** Headers, preconditions and range selection for a body of `size` bytes; `write` sends the bytes. */
async function sendEntity(req: IncomingMessage, res: ServerResponse, f: StoreFile, entity: Entity | CachedFile, write: BodyWriter): Promise<SendResult> {
  const { etag } = entity;
  const size = 'data' in entity ? entity.data.length : entity.size!;
  const dated = lastModifiedOf(f, entity);
  res.setHeader('ETag', etag);
  if (dated) res.setHeader('Last-Modified', dated.header);
  res.setHeader('Cache-Control', f.cacheControl);
  res.setHeader('Accept-Ranges', 'bytes');
  const h = req.headers;
  // most requests carry no condition and no range: nothing to evaluate
  const plain = h['if-match'] === undefined && h['if-none-match'] === undefined && h['if-modified-since'] === undefined && h['if-unmodified-since'] === undefined && h.range === undefined;
  const decision = plain ? 'full' : evaluatePreconditions(h, { etag, lastModified: dated?.time });
  if (decision === 'not-modified') {
    res.writeHead(304).end();
    return { status: 304, bytes: 0 };
  }
  if (decision === 'precondition-failed') {
    res.writeHead(412, { 'Content-Length': 0 }).end();
    return { status: 412, bytes: 0 };
  }
  const rangeHeader = h.range;
  const range = decision === 'range' ? parseRange(rangeHeader, size) : undefined;
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 }).end();
    return { status: 416, bytes: 0, range: rangeHeader };
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const length = end - start + 1;
  const status = range ? 206 : 200;
  res.setHeader('Content-Type', f.contentType);
  res.setHeader('Content-Length', length);
  if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  res.writeHead(status);
  const result: SendResult = { status, bytes: 0, range: range ? rangeHeader : undefined };
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return result;
  }
  const sent = await write(start, end);
  return { ...result, bytes: sent.bytes, aborted: sent.aborted };
}

/** large downloads this worker is streaming now (streamRange) */
let streaming = 0;

/**
 * A slow reader must not make the worker hold much: before, each download had two 512 KiB buffers, and a
 * client that read nothing kept both filled (200 stalled downloads of an 8 MiB file: +210 MB in one worker). Now a
 * chunk is read only once the socket has handed the previous one to the kernel, so a download holds at most
 * one chunk; full-size chunks come from this worker's pool of POOL_CHUNKS buffers, and a download that finds
 * the pool empty (as many downloads stalled or running at once) goes on in SMALL_CHUNK pieces. So a worker
 * holds at most POOL_CHUNKS × CHUNK (8 MiB) plus SMALL_CHUNK per other download, whatever its clients read.
 */
const POOL_CHUNKS = 16;
const SMALL_CHUNK = 64 * 1024;
const pool: Buffer[] = [];
/** pool buffers in existence (in the pool or in use) */
let pooled = 0;

function takePooled(): Buffer | undefined {
  const buf = pool.pop();
  if (buf) return buf;
  if (pooled >= POOL_CHUNKS) return undefined;
  pooled++;
  return Buffer.allocUnsafeSlow(CHUNK);
}

/**
 * Stream [start, end] of the file to the response, one chunk at a time: a chunk is read only after the
 * socket has taken the previous one (back-pressure), into a buffer of the worker's pool, or a small one of
 * the download's own when the pool is empty. A buffer goes back to the pool only once its write completed;
 * one whose write the connection's end cut is left to the garbage collector (node may still reference it).
 *
 * While it is this worker's only large download, a chunk is read with a blocking call, as nginx reads
 * (and sendfile, the registry's way): handed to the thread pool, each read cost more CPU than the copy
 * itself, in wake-ups of a pool thread and of the event loop (ten 256 MiB downloads one after the other:
 * 1.10-1.18 s of server CPU, 0.77-0.91 s blocking, docker-registry 0.98-1.07 s). With several at once,
 * reads go to the thread pool, which reads for some while this thread writes for others (8 downloads of
 * a 64 MiB file: 1,792 MiB/s so, 1,536 MiB/s all blocking), and a read the disk must serve holds up no
 * other connection.
 */
async function streamRange(fh: FileHandle, res: ServerResponse, start: number, end: number, file: string): Promise<{ bytes: number; aborted?: boolean }> {
  // a response destroyed mid-write never calls back: one close listener settles whatever waits
  let waiting: ((ok: boolean) => void) | undefined;
  let closed = false;
  const onClose = () => {
    closed = true;
    waiting?.(false);
    waiting = undefined;
  };
  res.once('close', onClose);
  let small: Buffer | undefined;
  let position = start;
  let sent = 0;
  streaming++;
  try {
    while (position <= end) {
      if (closed) return { bytes: sent, aborted: true };
      const big = takePooled();
      const buf = big ?? (small ??= Buffer.allocUnsafeSlow(SMALL_CHUNK));
      const length = Math.min(buf.length, end - position + 1);
      let bytesRead: number;
      try {
        bytesRead = streaming === 1 ? readSync(fh.fd, buf, 0, length, position) : (await fh.read(buf, 0, length, position)).bytesRead;
        if (bytesRead === 0) throw new StoreError(`${file} became shorter while it was sent: the store is being modified`);
      } catch (err) {
        if (big) pool.push(big);
        throw err;
      }
      position += bytesRead;
      sent += bytesRead;
      const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      const written = closed
        ? false
        : await new Promise<boolean>((resolve) => {
            waiting = resolve;
            res.write(chunk, (err) => {
              waiting = undefined;
              resolve(!err);
            });
          });
      if (!written) {
        // the socket may still hold the buffer: it is not handed to another download
        if (big) pooled--;
        return { bytes: sent, aborted: true };
      }
      if (big) pool.push(big);
    }
    const ended = closed ? false : await new Promise<boolean>((resolve) => {
      waiting = resolve;
      res.end(() => {
        waiting = undefined;
        resolve(true);
      });
    });
    return ended ? { bytes: sent } : { bytes: sent, aborted: true };
  } finally {
    streaming--;
    res.off('close', onClose);
  }
}

function writeBuffer(res: ServerResponse, data: Buffer): BodyWriter {
  return (start, end) =>
    new Promise((resolve) => {
      const body = start === 0 && end === data.length - 1 ? data : data.subarray(start, end + 1);
      res.end(body, () => resolve({ bytes: body.length }));
      res.once('close', () => resolve({ bytes: body.length, aborted: !res.writableFinished || undefined }));
    });
}

async function readExactly(fh: FileHandle, position: number, length: number, file: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  if (bytesRead !== length) throw new StoreError(`${file} became shorter while it was read: the store is being modified`);
  return buf;
}

function notFound(req: IncomingMessage, res: ServerResponse, f: StoreFile, reason: string): SendResult {
  return { status: 404, bytes: f.sendNotFound ? f.sendNotFound(req, res) : sendPlainStatus(req, res, 404), reason };
}
