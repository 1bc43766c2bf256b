import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { StoreError } from '../errors.js';
import { evaluatePreconditions } from './evaluatePreconditions.js';
import { isMissing } from './isMissing.js';
import { parseRange } from './parseRange.js';
import { sendPlainStatus } from './sendPlainStatus.js';

export interface StoreFile {
  /** absolute path under the store's real path */
  file: string;
  /** the real folder (ending in "/") the file's real path must stay inside */
  within: string;
  /** hex digest from the manifest (or the blob's name): the strong ETag */
  sha256: string;
  /** size from the manifest; a file of another size is a damaged store, never served */
  size?: number;
  contentType: string;
  cacheControl: string;
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
 * the socket has taken the previous one, so memory per download stays near one chunk whatever the file size.
 */
const CHUNK = 256 * 1024;

/**
 * Send one file of the store with ETag, Last-Modified, HEAD, conditional requests and a single Range.
 * The path is resolved with realpath and must stay inside `within` (a link planted in the store cannot
 * lead out of it); the file is then opened with O_NOFOLLOW and must be a regular file of the recorded size.
 */
export async function sendStoreFile(req: IncomingMessage, res: ServerResponse, f: StoreFile): Promise<SendResult> {
  let real: string;
  try {
    real = await realpath(f.file);
  } catch (err) {
    if (isMissing(err)) return notFound(req, res, 'no such file in the store');
    throw err;
  }
  if (!real.startsWith(f.within)) return notFound(req, res, `resolves outside ${f.within}`);
  let fh;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') return notFound(req, res, 'no such file in the store');
    throw err;
  }
  let streaming = false;
  try {
    const st = await fh.stat();
    if (!st.isFile()) return notFound(req, res, 'not a regular file');
    if (f.size !== undefined && st.size !== f.size) {
      throw new StoreError(`${f.file} has ${st.size} bytes but its manifest says ${f.size}: the store is damaged; re-import the bundle`);
    }
    const size = st.size;
    const etag = `"${f.sha256}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', st.mtime.toUTCString());
    res.setHeader('Cache-Control', f.cacheControl);
    res.setHeader('Accept-Ranges', 'bytes');

    const decision = evaluatePreconditions(req.headers, { etag, lastModified: st.mtime });
    if (decision === 'not-modified') {
      res.writeHead(304).end();
      return { status: 304, bytes: 0 };
    }
    if (decision === 'precondition-failed') {
      res.writeHead(412, { 'Content-Length': 0 }).end();
      return { status: 412, bytes: 0 };
    }
    const rangeHeader = req.headers.range;
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
    if (length <= SINGLE_READ_MAX) {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, length, start);
      if (bytesRead !== length) throw new StoreError(`${f.file} became shorter while it was read: the store is being modified`);
      await new Promise<void>((resolve) => res.end(buf, resolve));
      return { ...result, bytes: length, aborted: !res.writableFinished || undefined };
    }
    streaming = true;
    const stream = fh.createReadStream({ start, end, highWaterMark: CHUNK, autoClose: true });
    try {
      await pipeline(stream, res);
    } catch {
      // the client went away; pipeline has destroyed the file stream, which closes the file
      return { ...result, bytes: stream.bytesRead, aborted: true };
    }
    return { ...result, bytes: length };
  } finally {
    if (!streaming) await fh.close();
  }
}

function notFound(req: IncomingMessage, res: ServerResponse, reason: string): SendResult {
  return { status: 404, bytes: sendPlainStatus(req, res, 404), reason };
}
