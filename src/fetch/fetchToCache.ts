import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { makeDirectory, makeDirectorySync } from '../util/makeDirectory.js';

import { dirname, join, resolve } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import { FerryError, FetchError, IntegrityError } from '../errors.js';
import type { Logger } from '../ui/log.js';
import { isMissing } from '../util/isMissing.js';
import { writeAllSync } from '../util/writeAll.js';
import { openRegularFile } from '../util/readRegularFile.js';
import { SHA256_RE, sha256File } from '../util/sha256.js';
import type { SyncBatch } from '../util/createSyncBatch.js';
import { VERSION } from '../version.js';
import { cachedFile, partialKey, tempFile } from './cachePaths.js';
import { restoreFromPacks } from './cachePacks.js';
import { claimPartial, type ClaimedPartial } from './claimPartial.js';
import { createDownloadFile, type DownloadTee } from './createDownloadFile.js';
import { checkAnnounced, createBodyGuard, downloadLimits } from './downloadLimits.js';
import { clientFor } from './httpRequest.js';
import { countFetch, type FetchStats } from './createFetchStats.js';
import { localSourcePath } from './localSourcePath.js';
import { httpStatusError, toFetchError } from './toFetchError.js';

/** One file to download. */
export interface FetchRequest {
  /** http(s):// URL, file:// URL, or an absolute path (local mirror) */
  url: string;
  /** expected sha256 (hex); when given, a cached copy answers without any network traffic */
  sha256?: string;
  /** expected size in bytes; checked while streaming, so an oversized body stops early */
  size?: number;
  /** name shown in progress and messages (default: the URL) */
  label?: string;
  /** HTTP client for this file (e.g. one registry repository's login); default: the options' client */
  dispatcher?: Dispatcher;
  /**
   * a second place a streamed download writes its bytes as they arrive (the bundle being built); told
   * `placed()` when one attempt wrote every byte there and the file matched its digest. Files received
   * into memory (up to 256 KiB), copied from a local folder, resumed or found in the cache are not
   * written there: the caller copies them from the cache. With the tee's `only`, a fresh download that
   * the tee has a place for is written there alone (FetchResult.inTeeOnly).
   */
  tee?: DownloadTee;
}

export interface FetchOptions {
  /** root of the content-addressed cache (layout in cachePaths.ts and docs/fetch.md) */
  cacheDir: string;
  log?: Logger;
  /** counters to add this call's bytes to (see createFetchStats) */
  stats?: FetchStats;
  signal?: AbortSignal;
  /** HTTP client; default: one shared client from createDispatcher() */
  dispatcher?: Dispatcher;
  /** called with the size of every chunk read from the upstream (fetchMany's overall progress) */
  onBytes?: (bytes: number) => void;
  /**
   * re-hash a cache hit before trusting it (a damaged entry is removed and fetched again). Off by
   * default: entries are read-only and written only after verification, and hashing every hit
   * costs a full read of the cache per build.
   */
  rehashCached?: boolean;
  /**
   * sync new cache entries in this batch's pass (the caller flushes it) instead of one by one before
   * each is renamed into place; see createSyncBatch for what a crash in between can leave
   */
  syncBatch?: SyncBatch;
}

export interface FetchResult {
  /** the cached file, CACHE/sha256/HEX: read-only, never modify it */
  path: string;
  sha256: string;
  size: number;
  /** true when the cache (or a concurrent call for the same file) answered without new traffic */
  fromCache: boolean;
  /** bytes this call read from the upstream (less than size when a partial download was resumed) */
  fetchedBytes: number;
  /**
   * the bytes went into the request's tee alone (FetchRequest.tee with `only`): `path` does not exist;
   * the cache learns of the file from the bundle the tee wrote (fetch/cachePacks.ts)
   */
  inTeeOnly?: true;
  /** a cache hit this call made and hashed as it did (copied out of a pack, fetch/cachePacks.ts): as checked as a download */
  checkedNow?: true;
}

/** Files at least this large report their own progress. */
const PROGRESS_MIN_BYTES = 8 << 20;

/** Files up to this size, with a known digest and size, are received whole into memory (downloadSmall). */
const SMALL_MAX_BYTES = 256 << 10;

/** Downloads running in this process, by cache and content, so two callers never race on one partial. */
const inFlight = new Map<string, Promise<FetchResult>>();

/**
 * Make a file available in the content-addressed cache and return where it is.
 *
 * With `sha256` known, a cached copy is returned without touching the network (its size is checked,
 * its content only with `rehashCached`); otherwise the file is downloaded (resuming an interrupted
 * earlier attempt with a Range request), verified while streaming, and renamed into
 * `CACHE/sha256/<hex>`. Without `sha256` the file is always downloaded, hashed, and stored under its
 * digest. Bytes count in `stats.fetchedBytes` as they arrive, also for a download that then fails.
 *
 * Throws IntegrityError when the content does not match `sha256`/`size` (nothing is cached and the
 * partial is removed), FetchError for HTTP and network failures (`transient` tells whether trying
 * again may help; transient failures were already retried with back-off).
 */
export async function fetchToCache(req: FetchRequest, opts: FetchOptions): Promise<FetchResult> {
  const sha256 = req.sha256?.toLowerCase();
  if (sha256 !== undefined && !SHA256_RE.test(sha256)) {
    throw new FetchError(`${req.url}: "${req.sha256}" is not a sha256 (64 hex digits); fix the lock or spec.`, {
      url: req.url,
    });
  }
  const normalized = { ...req, sha256 };
  const key = `${resolve(opts.cacheDir)}\0${sha256 ?? req.url}`;
  const running = inFlight.get(key);
  if (running) {
    const shared = await running;
    countFetch(opts.stats, { cachedBytes: shared.size, cachedFiles: 1 });
    return { ...shared, fromCache: true, fetchedBytes: 0 };
  }
  const job = fetchOnce(normalized, opts).finally(() => inFlight.delete(key));
  inFlight.set(key, job);
  const result = await job;
  if (result.fromCache) countFetch(opts.stats, { cachedBytes: result.size, cachedFiles: 1 });
  else countFetch(opts.stats, { fetchedFiles: 1 });
  return result;
}

async function fetchOnce(req: FetchRequest, opts: FetchOptions): Promise<FetchResult> {
  if (req.sha256) {
    const hit = await cacheHit(req, opts);
    if (hit) return hit;
  }
  const local = localSourcePath(req.url);
  if (local === undefined && req.sha256 !== undefined && req.size !== undefined && req.size <= SMALL_MAX_BYTES) {
    return downloadSmall({ ...req, sha256: req.sha256, size: req.size }, opts);
  }
  if (local !== undefined) {
    for (const dir of ['sha256', 'tmp']) await makeDirectory(join(opts.cacheDir, dir));
    return copyLocal(local, req, opts);
  }
  // the cache's folders are made when first needed (claimPartial, writeOnce, verifyAndStore), not looked up per file
  return downloadHttp(req, opts);
}

/**
 * A small file whose digest and size are known: received into memory and hashed as it arrives, checked,
 * then written once under a temporary name of the cache and renamed into place. The resumable path's
 * per-file work (claiming a partial folder, its metadata file, a second rename, a recursive removal: a
 * dozen file system calls through the thread pool) is what a mirror of thousands of small .debs spends
 * its time on, and resuming a file this small saves next to nothing: an interrupted small download keeps
 * nothing and the next attempt starts over (undici's retry handler still resumes within one call).
 * Nothing reaches the cache unless its size and sha256 matched.
 */
async function downloadSmall(req: FetchRequest & { sha256: string; size: number }, opts: FetchOptions): Promise<FetchResult> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let received = 0;
  const take = meter(req, opts, hash, 0, req.size, (n) => (received += n), false);
  const url = new URL(req.url);
  /** what the status line or headers refused instead of taking the body */
  let refused: Error | undefined;
  try {
    const dispatcher = await clientFor(req.dispatcher ?? opts.dispatcher);
    await dispatcher
      .stream({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET', headers: requestHeaders(), signal: opts.signal }, ({ statusCode, headers: h }) => {
        const bodyLength = numberOrUndefined(header(h, 'content-length'));
        if (statusCode !== 200) refused = httpStatusError(req.url, statusCode);
        else if (bodyLength !== undefined && bodyLength !== req.size) refused = sizeMismatch(req, bodyLength, 'the server announces');
        if (refused) return skipBody();
        return intoMemory(take, chunks);
      })
      .catch((err: unknown) => {
        if (refused === undefined) throw err;
      });
    if (refused) throw refused;
    return keepReceived(req, opts, hash, chunks, received);
  } catch (err) {
    throw toFetchError(req.url, err);
  }
}

/** Where the body of a small download goes: each chunk checked by `take`, then kept in `chunks`. */
function intoMemory(take: (chunk: Buffer) => void, chunks: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, cb) {
      try {
        take(chunk);
        chunks.push(chunk);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

/** Check a body received into memory against the request, then write it into the cache once. */
function keepReceived(req: FetchRequest, opts: FetchOptions, hash: Hash, chunks: Buffer[], received: number): FetchResult {
  const found = hash.digest('hex');
  if (req.size !== undefined && received !== req.size) throw sizeMismatch(req, received, 'received');
  if (req.sha256 !== undefined && found !== req.sha256) throw digestMismatch(req, found, received);
  const path = cachedFile(opts.cacheDir, found);
  writeOnce(opts.cacheDir, path, chunks, !opts.syncBatch);
  opts.syncBatch?.add(path);
  return { path, sha256: found, size: received, fromCache: false, fetchedBytes: received };
}

/**
 * Write `chunks` to a new read-only temporary file of the cache and rename it to `path`; nothing is left
 * behind on failure. Synchronous, as pnpm writes its store's small files: four system calls on the
 * page cache take less than handing each to the thread pool and back (measured on this machine: 1,000
 * files of 640 bytes, 0.3 against 0.5-0.65 ms of CPU each), and the event loop waits for no disk unless
 * the caller has no sync batch (then the file is fsynced here, before it gets its name).
 */
function writeOnce(cacheDir: string, path: string, chunks: Buffer[], sync: boolean): void {
  const tmp = tempFile(cacheDir);
  // the folders exist but in a new cache: made on the first miss rather than looked up for every file
  const retryMissing = <T>(step: () => T): T => {
    try {
      return step();
    } catch (err) {
      if (!isMissing(err)) throw err;
      for (const dir of ['sha256', 'tmp']) makeDirectorySync(join(cacheDir, dir));
      return step();
    }
  };
  const fd = retryMissing(() => openSync(tmp, 'wx', 0o444));
  try {
    try {
      // the chunks as they arrived, in one call (no copy into one buffer)
      writeAllSync(fd, chunks);
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    retryMissing(() => renameSync(tmp, path));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function requestHeaders(): Record<string, string> {
  return { 'user-agent': `ferry/${VERSION}`, 'accept-encoding': 'identity' };
}

async function cacheHit(req: FetchRequest & { sha256?: string }, opts: FetchOptions): Promise<FetchResult | undefined> {
  const path = cachedFile(opts.cacheDir, req.sha256!);
  // a blocking stat (microseconds) rather than one through the thread pool, and a miss without an Error:
  // a mirror looks up thousands of entries, nearly all missing the first time, nearly all there after
  let st;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch {
    st = undefined;
  }
  // a blob an earlier build wrote only into its bundle is copied out of it (checked) the first time it is asked for
  let restored = false;
  if (!st && (restored = await restoreFromPacks(opts.cacheDir, req.sha256!, req.size, opts.log, opts.syncBatch))) st = statSync(path, { throwIfNoEntry: false });
  if (!st) return undefined;
  // An entry is named by its digest, so a different digest means it was damaged on disk. A different size
  // means that only when its bytes no longer match its name: an entry that does is the file of that digest,
  // and the size asked for is wrong (a lock edited by hand), which must not remove a file the cache verified.
  const sizeDiffers = req.size !== undefined && st.size !== req.size;
  const intact = sizeDiffers || opts.rehashCached ? (await sha256File(path)).sha256 === req.sha256 : true;
  if (sizeDiffers && intact) {
    throw new IntegrityError(
      `${req.url}: expected ${req.size} bytes, but the file of sha256 ${req.sha256} has ${st.size} (a verified entry of the cache, ` +
        'kept): the size the lock or index gives for it is wrong. Re-run `ferry lock` and review the diff.',
    );
  }
  const damage = sizeDiffers ? `has ${st.size} bytes, expected ${req.size}` : !intact ? 'does not match its digest' : undefined;
  if (damage) {
    opts.log?.warn(`cache entry ${path} ${damage}; removing it and downloading the file again`);
    await rm(path, { force: true });
    return undefined;
  }
  return { path, sha256: req.sha256!, size: st.size, fromCache: true, fetchedBytes: 0, ...(restored && { checkedNow: true as const }) };
}

/** What the partial file's bytes came from, so a resume can ask the server "only if unchanged". */
interface PartialMeta {
  url: string;
  etag?: string;
  lastModified?: string;
}

/** Returned by an attempt whose kept bytes turned out unusable: try once more from byte 0. */
const RESTART = Symbol('restart');

async function downloadHttp(req: FetchRequest, opts: FetchOptions): Promise<FetchResult> {
  const part = await claimPartial(opts.cacheDir, partialKey(req));
  try {
    let result = await attempt(req, opts, part, true);
    if (result === RESTART) result = await attempt(req, opts, part, false);
    if (result === RESTART) throw new Error('a download without resume cannot ask to restart');
    await part.remove();
    return result;
  } catch (err) {
    // Failures of the content and final answers (404...) leave nothing; interruptions keep their bytes.
    const final = err instanceof FerryError && !(err instanceof FetchError && err.transient);
    const kept = final ? 0 : await resumableBytes(part, req);
    if (kept > 0) await part.setAside();
    else await part.remove();
    throw toFetchError(req.url, err, keptNote(kept));
  }
}

/**
 * One request: resume from the claimed partial when allowed and possible, stream the body into it
 * while hashing, then verify and move it into the cache.
 */
async function attempt(
  req: FetchRequest,
  opts: FetchOptions,
  part: ClaimedPartial,
  allowResume: boolean,
): Promise<FetchResult | typeof RESTART> {
  // a fresh claim has nothing on disk to read, resume or discard
  const empty = part.fresh;
  const meta = empty ? undefined : await readMeta(part.meta);
  let offset = allowResume && !empty ? await resumableLength(part.data, meta, req) : 0;
  const discard = () => Promise.all([rm(part.data, { force: true }), rm(part.meta, { force: true })]);
  if (offset === 0 && !empty) await discard();

  // Hash the kept bytes before asking, so a slow disk cannot make the response time out meanwhile.
  let hash = await hashPrefix(part.data, offset);
  if (req.size !== undefined && offset === req.size) {
    // An earlier attempt received everything but stopped before moving the file into place.
    return verifyAndStore(req, opts, part.data, hash, offset, 0, allowResume);
  }
  const headers = requestHeaders();
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    const validator = meta?.url === req.url ? (meta.etag ?? meta.lastModified) : undefined;
    if (validator) headers['if-range'] = validator;
  }
  const url = new URL(req.url);
  let received = 0;
  /** the body, when it is small enough to be received into memory (see below) */
  let inMemory: Buffer[] | undefined;
  /** set when the body may go into the request's tee alone; `used`: it did */
  let teeOnly: { used: boolean } | undefined;
  /** what the status line and headers decided instead of taking the body: start over, or a refusal */
  let instead: typeof RESTART | { error: Error } | undefined;
  const skip = (what: typeof RESTART | { error: Error }) => {
    instead = what;
    return skipBody();
  };
  // undici's stream API hands the body's chunks straight to the file (no body stream in between)
  const dispatcher = await clientFor(req.dispatcher ?? opts.dispatcher);
  await dispatcher
    .stream({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET', headers, signal: opts.signal }, ({ statusCode, headers: h }) => {
      let startOver = false;
      if (offset > 0 && (statusCode === 206 || statusCode === 416)) {
        // The kept bytes do not fit the file the server has now.
        if (statusCode === 416 || parseContentRange(header(h, 'content-range'))?.start !== offset) return skip(RESTART);
      } else if (statusCode === 200) {
        // Either a fresh download, or the server ignored Range, or If-Range found the file changed.
        if (offset > 0) {
          startOver = true;
          hash = createHash('sha256');
          offset = 0;
        }
      } else {
        return skip({ error: httpStatusError(req.url, statusCode) });
      }
      const bodyLength = numberOrUndefined(header(h, 'content-length'));
      if (req.size !== undefined && bodyLength !== undefined && offset + bodyLength !== req.size) {
        return skip({ error: sizeMismatch(req, offset + bodyLength, 'the server announces') });
      }
      if (req.size === undefined && bodyLength !== undefined) {
        try {
          checkAnnounced(req.url, downloadLimits(), offset + bodyLength);
        } catch (err) {
          return skip({ error: err as Error });
        }
      }
      const etag = header(h, 'etag');
      const fresh: PartialMeta | undefined =
        offset === 0
          ? {
              url: req.url,
              // weak ETags are not byte-for-byte promises, so they cannot guard a Range request
              etag: etag && !etag.startsWith('W/') ? etag : undefined,
              lastModified: header(h, 'last-modified'),
            }
          : undefined;
      const total = req.size ?? (bodyLength !== undefined ? offset + bodyLength : undefined);
      const toMemory = offset === 0 && !startOver && req.sha256 !== undefined && total !== undefined && total <= SMALL_MAX_BYTES;
      const take = meter(req, opts, hash, offset, total, (n) => (received += n), !toMemory);
      // A whole body of known digest that the server announces as small (its size was not known before
      // asking, as for a wheel listed on a PEP 503 page) is received into memory like downloadSmall's:
      // no partial folder, metadata or second rename; interrupted, it keeps nothing, which costs little.
      // Memory stays bounded by the announced length: the body is framed by it, and undici's retry handler
      // refuses a resumed part whose Content-Range does not end where the first response did.
      if (toMemory) {
        inMemory = [];
        return intoMemory(take, inMemory);
      }
      // a fresh download whose tee may hold the only copy (the bundle being built: fetch/cachePacks.ts)
      if (offset === 0 && req.tee?.only) teeOnly = { used: false };
      // a body that breaks off rejects the request only once the file's destroy has run (undici waits for the
      // stream's 'error', emitted after it), so a tee-only download's kept bytes are on disk before they are looked at
      return createDownloadFile(part.data, {
        flags: offset > 0 ? 'a' : 'w',
        take,
        sync: !opts.syncBatch,
        tee: req.tee,
        teeOnly,
        start: offset,
        before: async () => {
          await part.ensure();
          if (startOver) await discard();
          if (fresh) await writeFile(part.meta, JSON.stringify(fresh) + '\n');
        },
      });
    })
    .catch((err: unknown) => {
      // a skipped body ends the transfer early; what was decided instead counts
      if (instead === undefined) throw err;
    });
  if (instead === RESTART) return RESTART;
  if (instead) throw instead.error;
  if (inMemory) return keepReceived(req, opts, hash, inMemory, received);
  const only = teeOnly?.used === true;
  const stored = await verifyAndStore(req, opts, part.data, hash, offset + received, received, allowResume, !only);
  // every byte came in this attempt, so every byte went through the tee (if it had a place), and the digest matched
  if (req.tee && stored !== RESTART && stored.fetchedBytes === stored.size) req.tee.placed(only);
  return stored;
}

/** Where a body goes that is not wanted: the first byte ends the transfer (an empty body just finishes). */
function skipBody(): Writable {
  return new Writable({
    write(_chunk, _encoding, cb) {
      cb(new Error('body not wanted'));
    },
  });
}

/**
 * Check a complete file against the request and rename it into the cache. On a mismatch of bytes that
 * were partly kept from an earlier attempt, ask for a clean restart (the kept bytes may be what is
 * wrong: a damaged partial); otherwise throw IntegrityError. The caller removes the file then.
 */
async function verifyAndStore(
  req: FetchRequest,
  opts: FetchOptions,
  file: string,
  hash: Hash,
  size: number,
  fetchedBytes: number,
  allowResume: boolean,
  store = true,
): Promise<FetchResult | typeof RESTART> {
  const found = hash.digest('hex');
  if ((req.size !== undefined && size !== req.size) || (req.sha256 !== undefined && found !== req.sha256)) {
    if (allowResume && size > fetchedBytes) {
      opts.log?.warn(`${req.url}: the resumed download does not match; downloading it again from the start`);
      return RESTART;
    }
    if (req.size !== undefined && size !== req.size) throw sizeMismatch(req, size, 'received');
    throw digestMismatch(req, found, size);
  }
  const path = cachedFile(opts.cacheDir, found);
  // written into the request's tee alone: the cache gets the file from there (fetch/cachePacks.ts)
  if (!store) return { path, sha256: found, size, fromCache: false, fetchedBytes, inTeeOnly: true };
  await chmod(file, 0o444);
  await rename(file, path).catch(async (err: unknown) => {
    if (!isMissing(err)) throw err;
    await makeDirectory(dirname(path));
    await rename(file, path);
  });
  opts.syncBatch?.add(path, size);
  return { path, sha256: found, size, fromCache: false, fetchedBytes };
}

/** Copy a file from a local mirror into the cache, verifying it on the way. */
async function copyLocal(source: string, req: FetchRequest, opts: FetchOptions): Promise<FetchResult> {
  const tmp = tempFile(opts.cacheDir);
  const hash = createHash('sha256');
  let received = 0;
  try {
    // a FIFO would block the copy forever (and has the size 0 a descriptor may give), a device never ends
    const opened = await openRegularFile(source);
    if ('refused' in opened) throw new FetchError(`${source} ${opened.refused}: ferry copies only regular files from local folders`, { url: req.url });
    const { fh, size } = opened;
    if (req.size !== undefined && size !== req.size) {
      await fh.close();
      throw sizeMismatch(req, size, 'the local file has');
    }
    const take = meter(req, opts, hash, 0, size, (n) => (received += n), true);
    await pipeline(fh.createReadStream({ highWaterMark: 1 << 20 }), createDownloadFile(tmp, { flags: 'wx', take, sync: !opts.syncBatch }), { signal: opts.signal });
    return (await verifyAndStore(req, opts, tmp, hash, received, received, false)) as FetchResult;
  } catch (err) {
    await rm(tmp, { force: true });
    throw toFetchError(req.url, err);
  }
}

/**
 * What a download does with each chunk before it is written: hash, count, enforce the expected size as
 * bytes arrive (an oversized body stops at once), bound a body of unknown size, the cache's free space
 * (`toDisk`: the body is written under the cache) and the body's rate (downloadLimits.ts), and report
 * progress for large files.
 */
function meter(
  req: FetchRequest,
  opts: FetchOptions,
  hash: Hash,
  offset: number,
  total: number | undefined,
  onChunk: (n: number) => void,
  toDisk: boolean,
): (chunk: Buffer) => void {
  const label = req.label ?? req.url;
  const report = opts.log && !opts.onBytes && total !== undefined && total >= PROGRESS_MIN_BYTES;
  const guard = createBodyGuard(req.url, downloadLimits(), { expected: total, diskDir: toDisk ? opts.cacheDir : undefined, start: offset });
  let done = offset;
  let lastPercent = -1;
  return (chunk) => {
    done += chunk.length;
    if (req.size !== undefined && done > req.size) throw sizeMismatch(req, done, 'received more than');
    guard(done, chunk.length);
    hash.update(chunk);
    onChunk(chunk.length);
    countFetch(opts.stats, { fetchedBytes: chunk.length });
    opts.onBytes?.(chunk.length);
    if (report) {
      const percent = Math.floor((done / total) * 100);
      if (percent !== lastPercent) opts.log!.progress(label, done, total, 'bytes');
      lastPercent = percent;
    }
  };
}

function digestMismatch(req: FetchRequest, found: string, size: number): IntegrityError {
  return new IntegrityError(
    `${req.url}: expected sha256 ${req.sha256}, found ${found} (${size} bytes). The upstream file is not ` +
      'the one the index or lock names: the mirror may be mid-sync or tampered with. Nothing was cached; ' +
      'try again later or another mirror, or re-run `ferry lock` if the upstream legitimately changed.',
  );
}

function sizeMismatch(req: FetchRequest, found: number, what: string): IntegrityError {
  return new IntegrityError(
    `${req.url}: expected ${req.size} bytes, ${what} ${found}. The upstream file is not the one the index ` +
      'or lock names; nothing was cached. Try again later or another mirror, or re-run `ferry lock`.',
  );
}

/** How many bytes an interrupted attempt leaves that the next one can resume from. */
async function resumableBytes(part: ClaimedPartial, req: FetchRequest): Promise<number> {
  return resumableLength(part.data, await readMeta(part.meta), req);
}

/** How many bytes of an earlier attempt can be kept (0: none, the partial is to be discarded). */
async function resumableLength(partial: string, meta: PartialMeta | undefined, req: FetchRequest): Promise<number> {
  const st = await stat(partial).catch(() => undefined);
  if (!st) return 0;
  if (req.size !== undefined && st.size > req.size) return 0;
  // Keyed by digest, the bytes are right whatever URL served them (the final hash check decides).
  // Keyed by URL, only a validator can prove the server still has the same file.
  if (req.sha256 === undefined && !(meta?.url === req.url && (meta.etag || meta.lastModified))) return 0;
  return st.size;
}

async function readMeta(path: string): Promise<PartialMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(path, 'utf8')) as PartialMeta;
    return typeof meta.url === 'string' ? meta : undefined;
  } catch {
    return undefined;
  }
}

async function hashPrefix(path: string, length: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (length === 0) return hash;
  const stream: Readable = createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash;
}

function keptNote(bytes: number): string {
  return bytes > 0 ? `${bytes} bytes are kept and the next attempt resumes from there.` : '';
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function numberOrUndefined(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** `bytes START-END/TOTAL` (TOTAL may be `*`). */
function parseContentRange(value: string | undefined): { start: number; end: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  return m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
}
