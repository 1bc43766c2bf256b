import type { Dispatcher } from 'undici';
import { FetchError } from '../errors.js';
import { VERSION } from '../version.js';
import { createBodyGuard, downloadLimits } from './downloadLimits.js';
import { countFetch, type FetchStats } from './createFetchStats.js';
import { httpRequest } from './httpRequest.js';
import { localSourcePath } from './localSourcePath.js';
import { NOT_REGULAR, readRegularFile } from '../util/readRegularFile.js';
import { httpStatusError, toFetchError } from './toFetchError.js';

export interface FetchBytesOptions {
  /** refuse bodies larger than this (default 64 MiB): an index that big is a wrong URL or a hostile server */
  maxBytes?: number;
  /** HEAD asks for the status and headers only (a file's size); no body is read or counted */
  method?: 'GET' | 'HEAD';
  /** request headers besides the user agent, e.g. `accept` for PEP 691 content negotiation */
  headers?: Record<string, string>;
  /**
   * Answer with whatever final status the server sends (its body read under the same cap) instead of
   * throwing on anything but 200: for callers that read the status themselves (404 = no such project).
   */
  anyStatus?: boolean;
  stats?: FetchStats;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
}

export interface FetchedBytes {
  /** the final HTTP status (after redirects and retries); 200 for a local file */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** the URL that answered, after redirects: what relative links in the body are relative to */
  url: string;
}

const DEFAULT_MAX_BYTES = 64 << 20;

/**
 * ferry's one HTTP GET into memory, for small upstream files: index files such as InRelease,
 * Packages.xz, a PEP 503/691 project page or a PEP 658 .metadata file, which change upstream and so are
 * not cached. `url` may be http(s)://, file:// or an absolute path (a local mirror). Goes through the
 * shared client (proxy, retries, redirects). Unless `anyStatus`, anything but 200 throws, and a missing
 * file throws a FetchError whose `status` is 404, so callers can fall back (InRelease → Release +
 * Release.gpg).
 */
export async function fetchBytes(url: string, opts: FetchBytesOptions = {}): Promise<FetchedBytes> {
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const local = localSourcePath(url);
  if (local !== undefined) {
    try {
      // only a regular file, and never more than `max` bytes of it: a FIFO (which a read would wait on
      // forever) or a device (/dev/zero never ends) in a local mirror is refused by what it is
      const read = await readRegularFile(local, max);
      if (read.refused !== undefined) {
        if (read.tooLarge !== undefined) throw tooLarge(url, read.tooLarge, max);
        throw new FetchError(`${local} ${read.refused}${read.refused === NOT_REGULAR ? ': ferry reads only regular files from local folders' : ''}`, { url });
      }
      const data = read.bytes;
      countFetch(opts.stats, { fetchedBytes: data.length, fetchedFiles: 1 });
      return { status: 200, headers: { 'content-length': String(data.length) }, body: data, url };
    } catch (err) {
      if (err instanceof FetchError) throw err;
      throw (err as { code?: string }).code === 'ENOENT'
        ? new FetchError(`${url}: no such file. Check the local mirror path.`, { cause: err, url, status: 404 })
        : toFetchError(url, err);
    }
  }
  const method = opts.method ?? 'GET';
  try {
    const res = await httpRequest(url, {
      method,
      dispatcher: opts.dispatcher,
      headers: { 'user-agent': `ferry/${VERSION}`, ...opts.headers },
      signal: opts.signal,
    });
    // undici's redirect handler lists every URL asked, the one that answered last
    const history = (res.context as { history?: readonly URL[] } | undefined)?.history;
    const answer = { status: res.statusCode, headers: res.headers, url: history?.at(-1)?.href ?? url };
    if (res.statusCode !== 200 && !opts.anyStatus) {
      await res.body.dump();
      throw httpStatusError(url, res.statusCode);
    }
    if (method === 'HEAD') {
      await res.body.dump();
      return { ...answer, body: Buffer.alloc(0) };
    }
    const announced = Number(res.headers['content-length'] ?? NaN);
    if (announced > max) {
      await res.body.dump();
      throw tooLarge(url, announced, max);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // bounded by `max` already; the guard adds the low-speed limit (a body trickled byte by byte)
    const guard = createBodyGuard(url, downloadLimits(), { expected: max, start: 0 });
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      guard(size, (chunk as Buffer).length);
      countFetch(opts.stats, { fetchedBytes: (chunk as Buffer).length });
      // leaving the loop by throwing ends the response
      if (size > max) throw tooLarge(url, size, max);
      chunks.push(chunk as Buffer);
    }
    countFetch(opts.stats, { fetchedFiles: 1 });
    return { ...answer, body: Buffer.concat(chunks, size) };
  } catch (err) {
    throw toFetchError(url, err);
  }
}

function tooLarge(url: string, size: number, max: number): FetchError {
  return new FetchError(
    `${url}: the body is larger than the ${max}-byte limit for index files (${size} bytes or more). ` +
      'Check the URL; if the index really is that large, raise maxBytes.',
    { url },
  );
}
