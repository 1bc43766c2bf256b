import type { IncomingMessage } from 'node:http';
import type { CachedFile } from './smallFileCache.js';
import { lastModifiedOf, type StoreFile } from './sendStoreFile.js';

/** One small file's answer to a plain GET or HEAD of one URL: every header, in the flat form `writeHead` takes as is. */
export interface PreparedResponse {
  /** the body is the small-file cache's entry under this digest (never held here: the cache's budget stays the bound) */
  sha256: string;
  /** [name, value, name, value, ...]: validators, Content-Type, Content-Length, caching, nosniff, X-Ferry-Bundle */
  headers: string[];
  /** the bundle a release name resolved to, for the access log */
  bundle?: string;
  /** Date.now() after which the URL is resolved again (release names can be re-pointed, bundles removed) */
  expires: number;
  /** the refs generation the URL was resolved under (a change under STORE/refs drops it at once) */
  generation: number;
}

/** A URL's answer is reused for this long before the URL is resolved again: the bound on staleness the ref and bundle caches already have. */
export const PREPARED_MAX_AGE_MS = 1000;
/** Request targets are chosen by clients: only this many are remembered, and only short ones. */
const MAX_ENTRIES = 4096;
const MAX_TARGET = 1024;

/**
 * The answers of the small files hosts ask for over and over (InRelease, Packages, PEP 503 pages),
 * prepared once per request target: resolving the path, the release name and the manifest entry,
 * and formatting and checking the headers, then cost nothing per request. A target is remembered
 * only after the full path answered it with a cached file (so every refusal and check still runs on
 * it first, and the same target always resolves the same way), only without a query, and at most for
 * PREPARED_MAX_AGE_MS or until anything under STORE/refs changes.
 */
export class PreparedResponses {
  private readonly entries = new Map<string, PreparedResponse>();

  /** The prepared answer for this target, if it is still valid. */
  get(target: string, generation: number, now: number): PreparedResponse | undefined {
    const hit = this.entries.get(target);
    if (hit === undefined) return undefined;
    if (hit.generation === generation && now < hit.expires) return hit;
    this.entries.delete(target);
    return undefined;
  }

  set(target: string, response: PreparedResponse): void {
    if (target.length > MAX_TARGET || target.includes('?')) return;
    this.entries.delete(target);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(target, response);
  }

  delete(target: string): void {
    this.entries.delete(target);
  }
}

/**
 * A request that a prepared answer fits: no precondition and no range (those are evaluated on the
 * full path). Reads the raw header names, so the parsed header object is not built for it.
 */
export function isPlainRequest(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  // an HTTP/1.1 request without Host is refused on the full path
  let host = req.httpVersionMinor === 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const c = name.charCodeAt(0) | 0x20;
    if (c === 0x68 /* h */ && name.length === 4 && name.toLowerCase() === 'host') host = true;
    // If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range; Range
    if (c === 0x69 /* i */ && (name.charCodeAt(1) | 0x20) === 0x66 /* f */ && name.charCodeAt(2) === 0x2d /* - */) return false;
    if (c === 0x72 /* r */ && name.length === 5 && name.toLowerCase() === 'range') return false;
  }
  return host;
}

/** The headers of a 200 answer of a cached file, as sendStoreFile sets them, plus X-Ferry-Bundle for a release. */
export function preparedHeaders(f: StoreFile, file: CachedFile, bundle?: string): string[] {
  const headers = ['X-Content-Type-Options', 'nosniff'];
  if (bundle !== undefined) headers.push('X-Ferry-Bundle', bundle);
  headers.push('ETag', file.etag);
  const dated = lastModifiedOf(f, file);
  if (dated) headers.push('Last-Modified', dated.header);
  headers.push('Cache-Control', f.cacheControl, 'Accept-Ranges', 'bytes', 'Content-Type', f.contentType, 'Content-Length', String(file.data.length));
  return headers;
}
