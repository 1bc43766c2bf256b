import { readFile, stat } from 'node:fs/promises';
import { request, type Dispatcher } from 'undici';
import { FetchError } from '../errors.js';
import { VERSION } from '../version.js';
import { defaultDispatcher } from './createDispatcher.js';
import { countFetch, type FetchStats } from './createFetchStats.js';
import { localSourcePath } from './localSourcePath.js';
import { httpStatusError, toFetchError } from './toFetchError.js';

export interface FetchBytesOptions {
  /** refuse bodies larger than this (default 64 MiB): an index that big is a wrong URL or a hostile server */
  maxBytes?: number;
  stats?: FetchStats;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
}

const DEFAULT_MAX_BYTES = 64 << 20;

/**
 * Read a small upstream file into memory: index files such as InRelease, Packages.xz or a PEP 503
 * page, which change upstream and so are not cached. `url` may be http(s)://, file:// or an absolute
 * path (a local mirror). Transient failures are retried like any download; a missing file throws a
 * FetchError whose `status` is 404, so callers can fall back (InRelease → Release + Release.gpg).
 */
export async function fetchBytes(url: string, opts: FetchBytesOptions = {}): Promise<Buffer> {
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const local = localSourcePath(url);
  if (local !== undefined) {
    try {
      const st = await stat(local);
      if (st.size > max) throw tooLarge(url, st.size, max);
      const data = await readFile(local, { signal: opts.signal });
      countFetch(opts.stats, { fetchedBytes: data.length, fetchedFiles: 1 });
      return data;
    } catch (err) {
      if (err instanceof FetchError) throw err;
      throw (err as { code?: string }).code === 'ENOENT'
        ? new FetchError(`${url}: no such file. Check the local mirror path.`, { cause: err, url, status: 404 })
        : toFetchError(url, err);
    }
  }
  try {
    const res = await request(url, {
      dispatcher: opts.dispatcher ?? defaultDispatcher(),
      headers: { 'user-agent': `ferry/${VERSION}` },
      signal: opts.signal,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw httpStatusError(url, res.statusCode);
    }
    const announced = Number(res.headers['content-length'] ?? NaN);
    if (announced > max) {
      await res.body.dump();
      throw tooLarge(url, announced, max);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      countFetch(opts.stats, { fetchedBytes: (chunk as Buffer).length });
      // leaving the loop by throwing ends the response
      if (size > max) throw tooLarge(url, size, max);
      chunks.push(chunk as Buffer);
    }
    countFetch(opts.stats, { fetchedFiles: 1 });
    return Buffer.concat(chunks, size);
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
