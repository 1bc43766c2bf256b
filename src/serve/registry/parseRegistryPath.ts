import { isRepository } from '../../util/imageNames.js';
import { IMAGE_DIGEST_RE, IMAGE_TAG_RE as TAG_RE } from '../../util/names.js';

/** A request of the OCI Distribution API (read side), after the path checks of resolveRequestPath. */
export type RegistryRoute =
  | { op: 'base' }
  | { op: 'catalog'; n?: number; last?: string }
  | { op: 'tags'; name: string; n?: number; last?: string }
  | { op: 'manifest'; name: string; tag: string }
  | { op: 'manifest'; name: string; digest: string }
  | { op: 'blob'; name: string; digest: string }
  /** the referrers API (OCI distribution 1.1), which ferry does not serve: 404, the spec's "not supported" */
  | { op: 'referrers'; name: string }
  /** a well-formed digest of another algorithm (`sha512:…`): ferry carries sha256 blobs only, so it is not there */
  | { op: 'absent'; name: string; code: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' }
  /** answered with the spec's JSON error body */
  | { op: 'error'; status: 400 | 404; code: RegistryErrorCode; reason: string };

export type RegistryErrorCode = 'NAME_UNKNOWN' | 'NAME_INVALID' | 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'TAG_INVALID' | 'DIGEST_INVALID' | 'PAGINATION_NUMBER_INVALID' | 'UNSUPPORTED';

/** Largest page of tags or repositories one answer holds. */
export const PAGE_MAX = 10_000;

/**
 * A digest as the OCI image spec writes it (`algorithm:encoded`), other than sha256. sha512 is a registered
 * algorithm with its own encoding (128 lower-case hex digits); other algorithms are only the grammar.
 */
const OTHER_DIGEST_RE = /^(?!sha256:)(?!sha512:)[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Za-z0-9=_-]{1,256}$|^sha512:[0-9a-f]{128}$/;

/**
 * A reference after `manifests/` or `blobs/` that holds a colon: a sha256 digest is looked up; a well-formed
 * digest of another algorithm is answered 404 like any digest the repository does not hold (the spec's
 * MUST for a manifest or blob not found, as docker-registry answers); anything else is malformed (400).
 */
function digestRoute(op: 'manifest' | 'blob', name: string, ref: string): RegistryRoute {
  if (IMAGE_DIGEST_RE.test(ref)) return op === 'manifest' ? { op: 'manifest', name, digest: ref } : { op: 'blob', name, digest: ref };
  if (OTHER_DIGEST_RE.test(ref)) return { op: 'absent', name, code: op === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN' };
  return error(400, 'DIGEST_INVALID', 'not a digest');
}

const error = (status: 400 | 404, code: RegistryErrorCode, reason: string): RegistryRoute => ({ op: 'error', status, code, reason });

/**
 * `/v2/...` as the distribution spec lays it out, `segments` being the decoded path components after
 * "v2". NAME may hold several components (`team/app`), so the operation is read from the end:
 * `NAME/manifests/REF`, `NAME/blobs/DIGEST`, `NAME/tags/list`. NAME must match the spec's grammar
 * (lower-case components), a tag its grammar, a digest `sha256:HEX` (a digest of another algorithm is
 * not carried: 404): nothing else reaches the store.
 */
export function parseRegistryPath(segments: string[], directory: boolean, query: string): RegistryRoute {
  if (segments.length === 0) return { op: 'base' };
  const params = new URLSearchParams(query);
  const page = (): { n?: number; last?: string } | RegistryRoute => {
    const n = params.get('n');
    const last = params.get('last') ?? undefined;
    if (n === null) return { last };
    if (!/^[0-9]{1,6}$/.test(n) || Number(n) > PAGE_MAX) return error(400, 'PAGINATION_NUMBER_INVALID', 'n is not a number up to 10000');
    return { n: Number(n), last };
  };
  if (segments.length === 1 && segments[0] === '_catalog' && !directory) {
    const p = page();
    return 'op' in p ? p : { op: 'catalog', ...p };
  }
  if (segments.length < 3 || directory) return error(404, 'NAME_UNKNOWN', 'no such registry route');
  const [op, last] = segments.slice(-2) as [string, string];
  const name = segments.slice(0, -2).join('/');
  if (!isRepository(name)) return error(404, 'NAME_UNKNOWN', 'not a repository name');
  switch (op) {
    case 'tags': {
      if (last !== 'list') return error(404, 'NAME_UNKNOWN', 'no such registry route');
      const p = page();
      return 'op' in p ? p : { op: 'tags', name, ...p };
    }
    case 'manifests':
      if (last.includes(':')) return digestRoute('manifest', name, last);
      return TAG_RE.test(last) ? { op: 'manifest', name, tag: last } : error(400, 'TAG_INVALID', 'not a tag');
    case 'blobs':
      return digestRoute('blob', name, last);
    case 'referrers':
      return IMAGE_DIGEST_RE.test(last) || OTHER_DIGEST_RE.test(last) ? { op: 'referrers', name } : error(400, 'DIGEST_INVALID', 'not a digest');
    default:
      return error(404, 'NAME_UNKNOWN', 'no such registry route');
  }
}
