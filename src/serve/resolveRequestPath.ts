import { REF_SEGMENT_RE } from '../store/storeLayout.js';
import { SHA256_RE } from '../util/sha256.js';
import { parseRegistryPath, type RegistryRoute } from './registry/parseRegistryPath.js';

/** Longest request target accepted, raw (percent-encoded) and decoded; longer ones answer 414. */
const MAX_RAW_TARGET = 8192;
const MAX_DECODED_PATH = 4096;

/** Bytes that never belong in a raw path: controls, space, DEL, backslash. */
const FORBIDDEN_RAW_RE = /[\x00-\x20\x7f\\]/;
/** Once decoded, a space is part of a name (a bundle path may hold one, sent as %20); controls and backslashes never are. */
const FORBIDDEN_DECODED_RE = /[\x00-\x1f\x7f\\]/;
const BAD_ESCAPE_RE = /%(?![0-9A-Fa-f]{2})/;
/** What is left after one decoding must not decode again: that is how double encoding smuggles "../". */
const STILL_ENCODED_RE = /%[0-9A-Fa-f]{2}/;

/** Inside a bundle: `path` is relative ("apt/dists/x/InRelease"); `directory` when the URL ended in "/". */
export interface BundleLocation {
  path: string;
  directory: boolean;
}

export type Route =
  | { kind: 'healthz' }
  | { kind: 'releases-index' }
  | ({ kind: 'bundle'; digest: string } & BundleLocation)
  | ({ kind: 'release'; name: string; version: string } & BundleLocation)
  | { kind: 'blob'; sha256: string }
  /** the OCI Distribution API under /v2/ */
  | { kind: 'registry'; route: RegistryRoute }
  /** /mirrors/NAME/PATH (the snapshot STORE/mirrors/NAME points at) or /mirrors/NAME@VERSION/PATH */
  | ({ kind: 'mirror'; mirror: string; version?: string } & BundleLocation)
  | { kind: 'redirect'; location: string }
  /** `reason` is for the access log only; clients get a bare status so nothing leaks */
  | { kind: 'refused'; status: 400 | 404 | 414; reason: string };

const refused = (status: 400 | 404 | 414, reason: string): Route => ({ kind: 'refused', status, reason });

/**
 * Map a raw request target (`req.url`, exactly as the client sent it) to what to serve.
 *
 * The checks run on the raw bytes first and again after a single percent-decoding, and every path
 * component is checked after decoding, so "%2e%2e%2f", "%252e%252e", overlong UTF-8 ("%c0%ae"),
 * NUL and backslashes never reach the file system. Beyond that, bundle paths are only looked up in
 * the bundle's manifest (an allow-list), and files are opened after a realpath check (sendStoreFile).
 */
export function resolveRequestPath(target: string): Route {
  if (target.length > MAX_RAW_TARGET) return refused(414, 'request target too long');
  if (!target.startsWith('/')) return refused(400, 'request target is not an absolute path');
  const q = target.indexOf('?');
  // the query is ignored: static files take no parameters
  const rawPath = q === -1 ? target : target.slice(0, q);
  if (rawPath.includes('#')) return refused(400, 'fragment in request target');
  if (FORBIDDEN_RAW_RE.test(rawPath)) return refused(400, 'control character, space or backslash in path');
  if (BAD_ESCAPE_RE.test(rawPath)) return refused(400, 'malformed percent-encoding');
  // a name with an encoded slash would be one component for the client (and a cache in between) and
  // several for ferry: `/v2/team%2Fapp/…` is not `/v2/team/app/…`
  if (/%2f/i.test(rawPath)) return refused(400, 'encoded slash in path');
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return refused(400, 'percent-encoding is not valid UTF-8');
  }
  if (decoded.length > MAX_DECODED_PATH) return refused(414, 'path too long');
  if (FORBIDDEN_DECODED_RE.test(decoded)) return refused(400, 'encoded control character or backslash');
  if (STILL_ENCODED_RE.test(decoded)) return refused(400, 'double percent-encoding');

  const segments = decoded.slice(1).split('/');
  let directory = false;
  if (segments.length > 1 && segments[segments.length - 1] === '') {
    directory = true;
    segments.pop();
  }
  for (const s of segments) {
    if (s === '' && segments.length > 1) return refused(400, 'empty path component');
    if (s === '.' || s === '..') return refused(400, 'dot path component');
  }

  const [top, a, b, ...rest] = segments;
  switch (top) {
    case 'healthz':
      return segments.length === 1 && !directory ? { kind: 'healthz' } : refused(404, 'no such route');
    case 'releases':
      if (segments.length === 1) return directory ? { kind: 'releases-index' } : { kind: 'redirect', location: rawPath + '/' };
      if (a === undefined || b === undefined || !REF_SEGMENT_RE.test(a) || !REF_SEGMENT_RE.test(b)) return refused(404, 'not a release name and version');
      // a release's root without its "/": relative links of its index page would resolve one level up (nginx: 404)
      if (rest.length === 0 && !directory) return { kind: 'redirect', location: rawPath + '/' };
      return { kind: 'release', name: a, version: b, path: rest.join('/'), directory: directory || rest.length === 0 };
    case 'bundles':
      if (a === undefined || !SHA256_RE.test(a)) return refused(404, 'not a bundle digest');
      if (b === undefined && !directory) return { kind: 'redirect', location: rawPath + '/' };
      return { kind: 'bundle', digest: a, path: [b, ...rest].filter((s) => s !== undefined).join('/'), directory: directory || b === undefined };
    case 'v2':
      return { kind: 'registry', route: parseRegistryPath(segments.slice(1), directory, q === -1 ? '' : target.slice(q + 1)) };
    case 'mirrors': {
      const [mirror, version, more] = (a ?? '').split('@');
      if (!a || more !== undefined || !REF_SEGMENT_RE.test(mirror!) || (version !== undefined && !REF_SEGMENT_RE.test(version))) return refused(404, 'not a mirror name');
      if (b === undefined && !directory) return { kind: 'redirect', location: rawPath + '/' };
      return { kind: 'mirror', mirror: mirror!, version, path: [b, ...rest].filter((s) => s !== undefined).join('/'), directory: directory || b === undefined };
    }
    case 'blobs':
      if (a === 'sha256' && b !== undefined && rest.length === 0 && !directory && SHA256_RE.test(b)) return { kind: 'blob', sha256: b };
      return refused(404, 'not a blob address');
    default:
      return refused(404, 'no such route');
  }
}
