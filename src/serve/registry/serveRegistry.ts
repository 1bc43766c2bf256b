import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StoreLayout } from '../../store/storeLayout.js';
import { sendStoreFile, type SendResult } from '../sendStoreFile.js';
import type { SmallFileCache } from '../smallFileCache.js';
import type { ImageCatalog, ServedManifest } from './imageCatalog.js';
import { PAGE_MAX, type RegistryErrorCode, type RegistryRoute } from './parseRegistryPath.js';

export const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' };
const IMMUTABLE = 'public, max-age=31536000, immutable';

const MESSAGES: Record<RegistryErrorCode, string> = {
  NAME_UNKNOWN: 'repository name not known to registry',
  NAME_INVALID: 'invalid repository name',
  MANIFEST_UNKNOWN: 'manifest unknown',
  BLOB_UNKNOWN: 'blob unknown to registry',
  TAG_INVALID: 'manifest tag did not match URI',
  DIGEST_INVALID: 'provided digest did not match uploaded content',
  PAGINATION_NUMBER_INVALID: 'invalid number of results requested',
  UNSUPPORTED: 'the operation is unsupported: this registry is read-only',
};

/**
 * A manifest or blob the catalog lists whose file is not in the store (ferry gc removing it within the second the
 * catalog is kept, a damaged store): the spec's 404, not the static routes' plain one, and no digest header.
 */
const unknownFile = (code: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN') => (req: IncomingMessage, res: ServerResponse) => {
  res.removeHeader('Docker-Content-Digest');
  return sendRegistryError(req, res, 404, code);
};

/** The spec's error body: `{"errors":[{"code","message"}]}` (no detail: nothing about the store leaks). */
export function sendRegistryError(req: IncomingMessage, res: ServerResponse, status: number, code: RegistryErrorCode, headers: Record<string, string> = {}, message = MESSAGES[code]): number {
  return sendJson(req, res, status, { errors: [{ code, message }] }, { 'Cache-Control': 'no-store', ...headers });
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, headers: Record<string, string>): number {
  const body = Buffer.from(JSON.stringify(value) + '\n');
  res.writeHead(status, { ...API_VERSION_HEADER, 'Content-Type': 'application/json', 'Content-Length': body.length, ...headers });
  if (req.method === 'HEAD') {
    res.end();
    return 0;
  }
  res.end(body);
  return body.length;
}

/** One page of a sorted list: the entries after `last`, at most `n`; `more` when some are left. */
function pageOf(all: string[], n: number | undefined, last: string | undefined): { items: string[]; more: boolean } {
  const after = last === undefined ? all : all.filter((x) => x > last);
  const size = n ?? PAGE_MAX;
  return { items: after.slice(0, size), more: after.length > size };
}

/** `Link: <URL>; rel="next"` for the page after `items` (the spec's pagination). */
function nextLink(path: string, n: number | undefined, items: string[]): Record<string, string> {
  const last = items[items.length - 1];
  if (last === undefined) return {};
  return { Link: `<${path}?n=${n ?? PAGE_MAX}&last=${encodeURIComponent(last)}>; rel="next"` };
}

/**
 * Answer one read request of the OCI Distribution API from the catalog: manifests with their own
 * media type, `Docker-Content-Digest` and the digest as ETag; blobs through sendStoreFile (HEAD,
 * Range, conditional requests), each only for a repository whose images use it.
 */
export async function serveRegistry(req: IncomingMessage, res: ServerResponse, route: RegistryRoute, catalog: () => Promise<ImageCatalog>, layout: StoreLayout, cache?: SmallFileCache): Promise<SendResult> {
  const fail = (status: number, code: RegistryErrorCode, reason: string): SendResult => ({ status, bytes: sendRegistryError(req, res, status, code), reason });
  switch (route.op) {
    case 'error':
      return fail(route.status, route.code, route.reason);
    case 'base':
      return { status: 200, bytes: sendJson(req, res, 200, {}, { 'Cache-Control': 'no-store' }) };
    case 'catalog': {
      const names = [...(await catalog()).repositories.keys()].sort();
      const { items, more } = pageOf(names, route.n, route.last);
      return { status: 200, bytes: sendJson(req, res, 200, { repositories: items }, { 'Cache-Control': 'no-cache', ...(more ? nextLink('/v2/_catalog', route.n, items) : {}) }) };
    }
    case 'tags': {
      const repo = (await catalog()).repositories.get(route.name);
      if (!repo) return fail(404, 'NAME_UNKNOWN', 'no image of that name in the store');
      const { items, more } = pageOf([...repo.tags.keys()].sort(), route.n, route.last);
      const headers = { 'Cache-Control': 'no-cache', ...(more ? nextLink(`/v2/${route.name}/tags/list`, route.n, items) : {}) };
      return { status: 200, bytes: sendJson(req, res, 200, { name: route.name, tags: items }, headers) };
    }
    case 'manifest': {
      const repo = (await catalog()).repositories.get(route.name);
      if (!repo) return fail(404, 'NAME_UNKNOWN', 'no image of that name in the store');
      const m: ServedManifest | undefined = 'tag' in route ? repo.tags.get(route.tag) : repo.manifests.get(route.digest.slice(7));
      if (!m) return fail(404, 'MANIFEST_UNKNOWN', 'no such manifest in that repository');
      res.setHeader('Docker-Content-Digest', `sha256:${m.sha256}`);
      res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
      // by tag: the tag may move to another release's image (an older one too, when a release goes), so clients
      // revalidate, by the digest ETag alone: a tag's answer has no modification date to go back in time
      return sendStoreFile(req, res, { file: layout.blob(m.sha256), within: `${layout.blobs}/`, sha256: m.sha256, size: m.size, contentType: m.mediaType, cacheControl: 'tag' in route ? 'no-cache' : IMMUTABLE, undated: 'tag' in route, sendNotFound: unknownFile('MANIFEST_UNKNOWN') }, cache);
    }
    case 'referrers': {
      // ferry does not index the manifests' subject fields, so it cannot say which manifests refer to a digest:
      // an empty index (200) would tell a client there are none and stop it from looking at the referrers tag
      // (sha256-HEX) a release may carry. The spec's answer of a registry without the API is 404; the error is
      // UNSUPPORTED, not NAME_UNKNOWN, which would tell the client the repository does not exist
      if (!(await catalog()).repositories.has(route.name)) return fail(404, 'NAME_UNKNOWN', 'no image of that name in the store');
      return { status: 404, bytes: sendRegistryError(req, res, 404, 'UNSUPPORTED', {}, 'the referrers API is not supported: use the referrers tag schema'), reason: 'referrers API not served' };
    }
    case 'absent': {
      // what a repository does not hold is MANIFEST_UNKNOWN or BLOB_UNKNOWN there, an unknown repository NAME_UNKNOWN
      if (!(await catalog()).repositories.has(route.name)) return fail(404, 'NAME_UNKNOWN', 'no image of that name in the store');
      return fail(404, route.code, 'a digest of another algorithm than sha256');
    }
    case 'blob': {
      const repo = (await catalog()).repositories.get(route.name);
      if (!repo) return fail(404, 'NAME_UNKNOWN', 'no image of that name in the store');
      const hex = route.digest.slice(7);
      const size = repo.blobs.get(hex);
      if (size === undefined) return fail(404, 'BLOB_UNKNOWN', 'no such blob in that repository');
      res.setHeader('Docker-Content-Digest', route.digest);
      res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
      return sendStoreFile(req, res, { file: layout.blob(hex), within: `${layout.blobs}/`, sha256: hex, size, contentType: 'application/octet-stream', cacheControl: IMMUTABLE, sendNotFound: unknownFile('BLOB_UNKNOWN') }, cache);
    }
  }
}
