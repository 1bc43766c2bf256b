import { lstat, stat } from 'node:fs/promises';
import { storeLayout } from '../store/storeLayout.js';
import { SIGNATURE_PATH } from '../bundle/manifest.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from '../ui/log.js';
import type { AccessLog } from './accessLog.js';
import { BundleIndexCache, type BundleIndex } from './bundleIndexCache.js';
import { contentTypeFor, DEFAULT_CONTENT_TYPE } from './contentTypeFor.js';
import { createRefResolver } from './createRefResolver.js';
import { createReferencedDigests } from './referencedDigests.js';
import { readReleaseRefs } from '../store/readReleaseRefs.js';
import { resolveMirror } from '../store/resolveMirror.js';
import { renderReleasesIndex } from '../store/renderReleasesIndex.js';
import { resolveRequestPath, type BundleLocation } from './resolveRequestPath.js';
import { sendPlainStatus } from './sendPlainStatus.js';
import { prefersPep691 } from './prefersPep691.js';
import { PEP691_CONTENT_TYPE, PEP691_PAGE } from '../util/pep691.js';
import { sendStoreFile, type SendResult, type StoreFile } from './sendStoreFile.js';
import { SmallFileCache } from './smallFileCache.js';
import { isPlainRequest, PREPARED_MAX_AGE_MS, preparedHeaders, PreparedResponses, type PreparedResponse } from './preparedResponses.js';
import { ImageCatalogCache } from './registry/imageCatalog.js';
import { sendRegistryError, serveRegistry } from './registry/serveRegistry.js';

export interface RequestHandlerOptions {
  /** the store's real path (symlinks resolved) */
  store: string;
  log: Logger;
  accessLog?: AccessLog;
  /** bytes of small files kept in memory (0: none); default 64 MiB */
  cacheBytes?: number;
}

export interface RequestHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** From now on answers carry `Connection: close`, so keep-alive clients let go after their current request. */
  drain(): void;
  close(): void;
}

/** A bundle's files never change (the directory is named by its manifest's hash), but for manifest.json.asc. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** a request target of the registry API, answered with its JSON errors */
const REGISTRY_TARGET_RE = /^\/v2(\/|\?|$)/;
/** A release name may be re-pointed to another bundle: clients revalidate (the ETag makes that a 304). */
const REVALIDATE = 'no-cache';

/**
 * The store's URL space, read-only:
 *   /bundles/DIGEST/PATH            files of an imported bundle that a ref names (PATH as listed in its manifest)
 *   /releases/NAME/VERSION/PATH     the same through STORE/refs/NAME/VERSION
 *   /releases/                      JSON list of releases
 *   /blobs/sha256/HEX               one artifact by its hash
 *   /mirrors/NAME/PATH              a mirror's current snapshot (STORE/mirrors/NAME); NAME@VERSION for another
 *   /healthz                        liveness and store check
 *   /v2/...                         the OCI Distribution API (read side) over the images of the releases
 * A URL ending in "/" serves the folder's index.html (PEP 503 pages), or its index.json (PEP 691) when the
 * request's Accept prefers application/vnd.pypi.simple.v1+json; the folder without "/" redirects.
 */
export function createRequestHandler(opts: RequestHandlerOptions): RequestHandler {
  const layout = storeLayout(opts.store);
  const { refs: refsDir, blobs: blobsDir } = layout;
  const bundles = new BundleIndexCache(layout.root);
  const refs = createRefResolver(refsDir);
  const referenced = createReferencedDigests(refsDir, () => refs.generation());
  const cacheBytes = opts.cacheBytes ?? 64 * 1024 * 1024;
  const cache = cacheBytes > 0 ? new SmallFileCache(cacheBytes) : undefined;
  const images = new ImageCatalogCache(layout.root, () => refs.generation(), (m) => opts.log.warn(m));
  const prepared = cache ? new PreparedResponses() : undefined;
  let draining = false;

  /** After the full path answered `req` with a file now in the cache: prepare that answer for the next request of the same target. */
  const remember = (req: IncomingMessage, f: StoreFile, result: SendResult, reuse: { generation: number; from?: string; bundle?: string; until?: number }) => {
    if (!prepared || result.status !== 200 || result.range !== undefined) return;
    const file = cache!.get(f.sha256);
    if (!file) return;
    let expires = Date.now() + PREPARED_MAX_AGE_MS;
    // a file of a bundle: no longer than the bundle was last seen in place (ferry gc may remove it)
    if (reuse.from !== undefined) expires = Math.min(expires, bundles.reusableUntil(reuse.from));
    // by release name: no longer than the name's answer is trusted without reading the ref again
    if (reuse.until !== undefined) expires = Math.min(expires, reuse.until);
    prepared.set(req.url ?? '', { sha256: f.sha256, headers: preparedHeaders(f, file, reuse.bundle), bundle: reuse.bundle, expires, generation: reuse.generation });
  };

  /**
   * `prepare`: the answer may be reused for the same target (not for mirrors: their links are read per request).
   * `changed`: when the name the bundle was reached through last changed (sendStoreFile's Last-Modified).
   */
  const serveFromBundle = async (req: IncomingMessage, res: ServerResponse, index: BundleIndex, loc: BundleLocation, cacheControl: string, prepare?: { generation: number; bundle?: string; until?: number }, changed?: Date): Promise<SendResult> => {
    let varies = false;
    let path = loc.directory ? (loc.path === '' ? 'index.html' : `${loc.path}/index.html`) : loc.path;
    let contentType = contentTypeFor(path);
    if (loc.directory) {
      // a Python index folder with a PEP 691 page: the answer depends on Accept (JSON for pip, HTML otherwise)
      const jsonPage = loc.path === '' ? PEP691_PAGE : `${loc.path}/${PEP691_PAGE}`;
      if (index.files.has(jsonPage)) {
        res.setHeader('Vary', 'Accept');
        varies = true;
        if (prefersPep691(req.headers.accept)) {
          path = jsonPage;
          contentType = PEP691_CONTENT_TYPE;
        }
      }
    }
    const entry = index.files.get(path);
    if (!entry) {
      if (!loc.directory && index.files.has(`${loc.path}/index.html`)) {
        const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
        return { status: 301, bytes: sendPlainStatus(req, res, 301, { Location: `${rawPath}/` }) };
      }
      return { status: 404, bytes: sendPlainStatus(req, res, 404), reason: 'not in the bundle manifest' };
    }
    // the signature is the one file of a bundle an import replaces (a damaged one): revalidated, its ETag its sha256
    const f: StoreFile = { file: join(index.dir, path), within: `${index.dir}/`, sha256: entry.sha256, size: entry.size, contentType, cacheControl: path === SIGNATURE_PATH ? REVALIDATE : cacheControl, changed };
    const result = await sendStoreFile(req, res, f, cache);
    if (prepare && !varies) remember(req, f, result, { ...prepare, from: index.digest });
    return result;
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<SendResult & { bundle?: string }> => {
    // read before anything is resolved: a ref changed meanwhile makes what is resolved here unfit for reuse
    const generation = refs.generation();
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400 (node:http did it before this handler:
    // no access-log line, no nosniff, a chunked body); node is told not to (createServer), ferry does it here
    if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) return { status: 400, bytes: sendPlainStatus(req, res, 400), reason: 'no Host header' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // pushes and deletes: the registry is read-only, and says so the way registry clients read it
      if (REGISTRY_TARGET_RE.test(req.url ?? '')) return { status: 405, bytes: sendRegistryError(req, res, 405, 'UNSUPPORTED', { Allow: 'GET, HEAD' }) };
      return { status: 405, bytes: sendPlainStatus(req, res, 405, { Allow: 'GET, HEAD' }) };
    }
    const r = resolveRequestPath(req.url ?? '');
    switch (r.kind) {
      case 'refused':
        // under /v2/ registry clients read the spec's JSON error, whatever refused the path
        if (REGISTRY_TARGET_RE.test(req.url ?? '')) return { status: r.status, bytes: sendRegistryError(req, res, r.status, r.status === 404 ? 'NAME_UNKNOWN' : 'NAME_INVALID'), reason: r.reason };
        return { status: r.status, bytes: sendPlainStatus(req, res, r.status), reason: r.reason };
      case 'redirect':
        return { status: 301, bytes: sendPlainStatus(req, res, 301, { Location: r.location }) };
      case 'healthz': {
        const ok = await stat(opts.store).then((s) => s.isDirectory(), () => false);
        const body = JSON.stringify({ status: ok ? 'ok' : 'store unavailable' }) + '\n';
        res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return { status: ok ? 200 : 503, bytes: req.method === 'HEAD' ? 0 : body.length };
      }
      case 'releases-index': {
        const list = await readReleaseRefs(refsDir, (file, why) => opts.log.warn(`ignoring ${file}: ${why}`));
        const body = Buffer.from(renderReleasesIndex(list));
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length, 'Cache-Control': REVALIDATE });
        res.end(req.method === 'HEAD' ? undefined : body);
        return { status: 200, bytes: req.method === 'HEAD' ? 0 : body.length };
      }
      case 'bundle': {
        const index = await bundles.get(r.digest);
        if (!index) return { status: 404, bytes: sendPlainStatus(req, res, 404), reason: 'no such bundle' };
        // a tree no ref names is no release: an import that did not finish, a release withdrawn or being collected
        if (!(await referenced(r.digest))) return { status: 404, bytes: sendPlainStatus(req, res, 404), reason: 'no release names this bundle' };
        return serveFromBundle(req, res, index, r, IMMUTABLE, { generation });
      }
      case 'release': {
        const resolving = refs.resolve(r.name, r.version);
        // taken with the answer it belongs to (a later request may start a newer read meanwhile)
        const until = refs.reusableUntil(r.name, r.version);
        const ref = await resolving;
        if (!ref) return { status: 404, bytes: sendPlainStatus(req, res, 404), reason: 'no such release' };
        const digest = ref.digest;
        const index = await bundles.get(digest);
        if (!index) {
          opts.log.warn(`release ${r.name} ${r.version} names bundle ${digest}, which is not in the store; re-import it`);
          return { status: 404, bytes: sendPlainStatus(req, res, 404), reason: 'release names a missing bundle', bundle: digest };
        }
        res.setHeader('X-Ferry-Bundle', digest);
        return { ...(await serveFromBundle(req, res, index, r, REVALIDATE, { generation, bundle: digest, until }, ref.changed)), bundle: digest };
      }
      case 'registry':
        return serveRegistry(req, res, r.route, () => images.get(), layout, cache);
      case 'mirror': {
        const snapshot = await resolveMirror(opts.store, r.mirror, r.version, { changed: true });
        const index = snapshot && (await bundles.get(snapshot.digest));
        if (!snapshot || !index) return { status: 404, bytes: sendPlainStatus(req, res, 404), reason: 'no such mirror snapshot' };
        res.setHeader('X-Ferry-Bundle', snapshot.digest);
        const loc = { path: r.path === '' ? `mirrors/${r.mirror}` : `mirrors/${r.mirror}/${r.path}`, directory: r.directory };
        return { ...(await serveFromBundle(req, res, index, loc, REVALIDATE, undefined, snapshot.changed)), bundle: snapshot.digest };
      }
      case 'blob': {
        const f: StoreFile = { file: layout.blob(r.sha256), within: `${blobsDir}/`, sha256: r.sha256, contentType: DEFAULT_CONTENT_TYPE, cacheControl: IMMUTABLE };
        // memory may still hold a blob ferry gc removed: by hash, only a blob still in the store is served
        // (a prepared answer lives a second at most, as for a removed bundle)
        if (cache?.get(r.sha256) && !(await lstat(f.file).then((s) => s.isFile(), () => false))) return { status: 404, bytes: sendPlainStatus(req, res, 404), reason: 'no such blob in the store' };
        const result = await sendStoreFile(req, res, f, cache);
        remember(req, f, result, { generation });
        return result;
      }
    }
  };

  /** The access log's line for `req`, once `result` is known. */
  const logRequest = (req: IncomingMessage, started: bigint, remote: string, result: SendResult & { bundle?: string }) => {
    opts.accessLog?.({
      time: new Date().toISOString(),
      remote,
      method: req.method ?? '',
      target: (req.url ?? '').slice(0, 1024),
      status: result.status,
      bytes: result.bytes,
      ms: Number(process.hrtime.bigint() - started) / 1e6,
      range: result.range,
      bundle: result.bundle,
      reason: result.reason,
      aborted: result.aborted,
      ua: req.headers['user-agent'],
    });
  };

  /** A prepared answer: the headers as prepared, the verified bytes from the cache; no promise, no lookup, no header check. */
  const sendPrepared = (req: IncomingMessage, res: ServerResponse, p: PreparedResponse, data: Buffer) => {
    const head = req.method === 'HEAD';
    if (opts.accessLog) {
      const started = process.hrtime.bigint();
      const remote = req.socket.remoteAddress ?? '';
      const bytes = head ? 0 : data.length;
      res.once('close', () => logRequest(req, started, remote, { status: 200, bytes, bundle: p.bundle, aborted: !res.writableFinished || undefined }));
    }
    res.writeHead(200, p.headers);
    if (head) res.end();
    else res.end(data);
  };

  /**
   * A request pipelined behind another on its connection: node:http has read it, but its answer can only go
   * out after that one's. Started now, it would open its file and fill its buffers, and hold them until the
   * client reads (a client that sends many and reads nothing held a file and 1 MiB per request, without end).
   * It starts when its answer gets the socket; if the connection closes first, it is logged with status 0.
   */
  const waitTurn = (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const remote = req.socket.remoteAddress ?? '';
    const onTurn = () => {
      req.off('close', onGone);
      handler(req, res);
    };
    const onGone = () => {
      res.off('socket', onTurn);
      logRequest(req, started, remote, { status: 0, bytes: 0, aborted: true, reason: 'connection closed before its turn' });
    };
    res.once('socket', onTurn);
    req.once('close', onGone);
  };

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    if (!res.socket) return waitTurn(req, res);
    if (prepared && !draining && (req.method === 'GET' || req.method === 'HEAD') && isPlainRequest(req)) {
      const p = prepared.get(req.url ?? '', refs.generation(), Date.now());
      // the bytes stay the cache's: when it has let them go, the full path reads and checks them again
      const file = p && cache!.get(p.sha256);
      if (file) return sendPrepared(req, res, p, file.data);
    }
    const started = process.hrtime.bigint();
    // read now: once the client has gone, the socket no longer knows its peer
    const remote = req.socket.remoteAddress ?? '';
    if (draining) res.setHeader('Connection', 'close');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const done = (result: SendResult & { bundle?: string }) => logRequest(req, started, remote, result);
    route(req, res).then(done, (err: unknown) => {
      // details go to the operator's log; the client learns only that it failed
      opts.log.warn(`${req.method} ${(req.url ?? '').slice(0, 200)}: ${(err as Error).message}`);
      if (!res.headersSent) done({ status: 500, bytes: sendPlainStatus(req, res, 500), reason: (err as Error).message });
      else {
        res.destroy();
        done({ status: res.statusCode, bytes: 0, aborted: true, reason: (err as Error).message });
      }
    });
  }) as RequestHandler;
  handler.drain = () => {
    draining = true;
  };
  handler.close = () => refs.close();
  return handler;
}
