import { chmod, mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FetchError, IntegrityError } from '../../src/errors.js';
import { createDispatcher } from '../../src/fetch/createDispatcher.js';
import { createFetchStats } from '../../src/fetch/createFetchStats.js';
import { fetchToCache } from '../../src/fetch/fetchToCache.js';
import { silentLogger } from '../../src/ui/log.js';
import { bytes } from './fixtureServer.js';
import { listCache, sha, useFetchWorld } from './helpers.js';

const w = useFetchWorld();

/** Counts bytes as the client reads them; settles once `n` have arrived (the server then cuts). */
function bytesArrived(n: number) {
  let seen = 0;
  let settle!: () => void;
  const promise = new Promise<void>((r) => (settle = r));
  return { promise, count: (bytes: number) => (seen += bytes) >= n && settle() };
}

describe('fetchToCache', () => {
  it('downloads a file into CACHE/sha256/HEX, read-only, and a second fetch downloads nothing', async () => {
    const data = bytes(200_000);
    const digest = w.server.put('/pool/a.deb', data);
    const req = { url: w.server.url('/pool/a.deb'), sha256: digest, size: data.length };

    const first = createFetchStats();
    const got = await fetchToCache(req, { cacheDir: w.cacheDir, stats: first, dispatcher: w.retrying });
    expect(got).toMatchObject({ sha256: digest, size: data.length, fromCache: false, fetchedBytes: data.length });
    expect(got.path).toBe(join(w.cacheDir, 'sha256', digest));
    expect(sha(await readFile(got.path))).toBe(sha(data));
    expect((await stat(got.path)).mode & 0o222).toBe(0);
    expect(first).toMatchObject({ fetchedBytes: data.length, fetchedFiles: 1, cachedBytes: 0 });
    expect(w.server.bytesSent).toBe(data.length);

    const second = createFetchStats();
    const again = await fetchToCache(req, { cacheDir: w.cacheDir, stats: second, dispatcher: w.retrying });
    expect(again).toMatchObject({ path: got.path, fromCache: true, fetchedBytes: 0 });
    expect(second).toMatchObject({ fetchedBytes: 0, fetchedFiles: 0, cachedBytes: data.length, cachedFiles: 1 });
    expect(w.server.requestsFor('/pool/a.deb')).toHaveLength(1);
    expect(w.server.bytesSent).toBe(data.length);
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
  });

  it('trusts a cache hit by name and size, and re-hashes it when asked (a damaged entry is fetched again)', async () => {
    const data = bytes(20_000, 18);
    const digest = w.server.put('/c.deb', data);
    const req = { url: w.server.url('/c.deb'), sha256: digest, size: data.length };
    const got = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.retrying });
    await chmod(got.path, 0o644);
    await writeFile(got.path, Buffer.alloc(data.length));

    expect(await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.retrying })).toMatchObject({ fromCache: true });
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    const again = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.retrying, rehashCached: true, log });
    expect(again).toMatchObject({ fromCache: false, fetchedBytes: data.length });
    expect(sha(await readFile(again.path))).toBe(digest);
    expect(warnings).toEqual([`cache entry ${got.path} does not match its digest; removing it and downloading the file again`]);

    await chmod(got.path, 0o644);
    await writeFile(got.path, 'short');
    const third = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.retrying });
    expect(third).toMatchObject({ fromCache: false, fetchedBytes: data.length });
  });

  it('reports the progress of a large file in bytes, about once per percent', async () => {
    const data = bytes(9 << 20, 19);
    const digest = w.server.put('/rootfs.tar', data);
    const calls: Array<[string, number, number, string | undefined]> = [];
    const log = { ...silentLogger, progress: (l: string, d: number, t: number, u?: string) => calls.push([l, d, t, u]) };
    await fetchToCache(
      { url: w.server.url('/rootfs.tar'), sha256: digest, size: data.length, label: 'rootfs base' },
      { cacheDir: w.cacheDir, dispatcher: w.retrying, log },
    );
    expect(calls.length).toBeGreaterThan(5);
    expect(calls.length).toBeLessThanOrEqual(101);
    expect(calls.every(([l, , t, u]) => l === 'rootfs base' && t === data.length && u === 'bytes')).toBe(true);
    expect(calls.at(-1)![1]).toBe(data.length);
  });

  it('adds counts to the parent stats too, so a build totals what its kinds fetched', async () => {
    const data = bytes(1000);
    const digest = w.server.put('/x', data);
    const total = createFetchStats();
    const apt = createFetchStats(total);
    await fetchToCache({ url: w.server.url('/x'), sha256: digest }, { cacheDir: w.cacheDir, stats: apt, dispatcher: w.retrying });
    await fetchToCache({ url: w.server.url('/x'), sha256: digest }, { cacheDir: w.cacheDir, stats: apt, dispatcher: w.retrying });
    expect(apt).toMatchObject({ fetchedBytes: 1000, fetchedFiles: 1, cachedBytes: 1000, cachedFiles: 1 });
    expect(total).toMatchObject({ fetchedBytes: 1000, fetchedFiles: 1, cachedBytes: 1000, cachedFiles: 1 });
  });

  it('stores a file whose sha256 is not known under the digest it turns out to have', async () => {
    const data = bytes(5000, 7);
    w.server.put('/files/app.tar', data);
    const got = await fetchToCache({ url: w.server.url('/files/app.tar') }, { cacheDir: w.cacheDir, dispatcher: w.retrying });
    expect(got.sha256).toBe(sha(data));
    expect(sha(await readFile(got.path))).toBe(sha(data));
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${sha(data)}`]);
  });

  it('continues an interrupted download with a Range request and receives only the rest', async () => {
    const data = bytes(300_000, 3);
    const digest = w.server.put('/big.deb', data);
    const req = { url: w.server.url('/big.deb'), sha256: digest, size: data.length };
    const arrived = bytesArrived(100_000);
    w.server.fault('/big.deb', { dropAfter: 100_000, dropWhen: arrived.promise });

    const err = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once, onBytes: arrived.count }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).transient).toBe(true);
    expect((err as FetchError).message).toContain(req.url);
    expect((err as FetchError).message).toContain('100000 bytes are kept');
    expect(await listCache(w.cacheDir)).toEqual([`partial/${digest}/data`, `partial/${digest}/meta.json`]);

    const stats = createFetchStats();
    const got = await fetchToCache(req, { cacheDir: w.cacheDir, stats, dispatcher: w.once });
    expect(sha(await readFile(got.path))).toBe(sha(data));
    expect(got.fetchedBytes).toBe(200_000);
    expect(stats.fetchedBytes).toBe(200_000);
    const second = w.server.requestsFor('/big.deb')[1]!;
    expect(second).toMatchObject({ range: 'bytes=100000-', status: 206 });
    expect(second.ifRange).toMatch(/^"/);
    expect(w.server.bytesSent).toBe(data.length);
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
  });

  it('a download written into its tee alone (the bundle a build fills) makes no cache entry; broken off, the bytes it got are copied from the tee into the cache, and the next attempt asks for the rest', async () => {
    const data = bytes(400_000, 41);
    const digest = w.server.put('/layer.bin', data);
    const req = { url: w.server.url('/layer.bin'), sha256: digest, size: data.length };
    /** the tee: a buffer standing for the layer's place in the bundle */
    const place = Buffer.alloc(data.length);
    const placed: boolean[] = [];
    const tee = () => ({
      only: true,
      open: async () => ({
        write: async (bufs: Buffer[], offset: number) => void Buffer.concat(bufs).copy(place, offset),
        readSync: (buf: Buffer, offset: number) => place.copy(buf, 0, offset, Math.min(place.length, offset + buf.length)),
      }),
      placed: (only: boolean) => void placed.push(only),
    });

    const arrived = bytesArrived(150_000);
    w.server.fault('/layer.bin', { dropAfter: 150_000, dropWhen: arrived.promise });
    const err = await fetchToCache({ ...req, tee: tee() }, { cacheDir: w.cacheDir, dispatcher: w.once, onBytes: arrived.count }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).message).toContain('150000 bytes are kept');
    expect(await listCache(w.cacheDir)).toEqual([`partial/${digest}/data`, `partial/${digest}/meta.json`]);
    expect((await readFile(join(w.cacheDir, 'partial', digest, 'data'))).equals(data.subarray(0, 150_000))).toBe(true);
    expect(placed).toEqual([]);

    // the next attempt resumes from the kept bytes (into the cache: the tee did not get the first part)
    const got = await fetchToCache({ ...req, tee: tee() }, { cacheDir: w.cacheDir, dispatcher: w.once });
    expect(w.server.requestsFor('/layer.bin')[1]).toMatchObject({ range: 'bytes=150000-', status: 206 });
    expect(got).toMatchObject({ fetchedBytes: 250_000, fromCache: false });
    expect(got.inTeeOnly).toBeUndefined();
    expect(sha(await readFile(got.path))).toBe(digest);
    expect(placed).toEqual([]);

    // a whole download into the tee alone: the tee has every byte, the cache nothing of it
    const other = bytes(300_000, 42);
    const otherDigest = w.server.put('/layer2.bin', other);
    place.fill(0);
    const alone = await fetchToCache({ url: w.server.url('/layer2.bin'), sha256: otherDigest, size: other.length, tee: tee() }, { cacheDir: w.cacheDir, dispatcher: w.once });
    expect(alone).toMatchObject({ inTeeOnly: true, fetchedBytes: other.length, sha256: otherDigest });
    expect(placed).toEqual([true]);
    expect(place.subarray(0, other.length).equals(other)).toBe(true);
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
  });

  it('receives a small file of known digest and size whole: an interrupted attempt keeps nothing, the next starts over', async () => {
    const data = bytes(100_000, 30);
    const digest = w.server.put('/small.deb', data);
    const req = { url: w.server.url('/small.deb'), sha256: digest, size: data.length };
    const arrived = bytesArrived(40_000);
    w.server.fault('/small.deb', { dropAfter: 40_000, dropWhen: arrived.promise });

    const err = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once, onBytes: arrived.count }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).transient).toBe(true);
    expect((err as FetchError).message).toContain(req.url);
    expect((err as FetchError).message).not.toContain('kept');
    expect(await listCache(w.cacheDir)).toEqual([]);

    const got = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once });
    expect(got).toMatchObject({ fromCache: false, fetchedBytes: data.length });
    expect(sha(await readFile(got.path))).toBe(digest);
    expect((await stat(got.path)).mode & 0o222).toBe(0);
    expect(w.server.requestsFor('/small.deb').map((r) => r.range)).toEqual([undefined, undefined]);
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
  });

  it('leaves a partial at rest alone for a small file of known size: it is received whole', async () => {
    const data = bytes(30_000, 31);
    const digest = w.server.put('/rested.deb', data);
    await mkdir(join(w.cacheDir, 'partial', digest), { recursive: true });
    await writeFile(join(w.cacheDir, 'partial', digest, 'data'), data.subarray(0, 10_000));
    const got = await fetchToCache({ url: w.server.url('/rested.deb'), sha256: digest, size: data.length }, { cacheDir: w.cacheDir, dispatcher: w.once });
    expect(got.fetchedBytes).toBe(data.length);
    expect(sha(await readFile(got.path))).toBe(digest);
    expect(w.server.requestsFor('/rested.deb').map((r) => r.range)).toEqual([undefined]);
  });

  it('receives a file of known digest whose size only the server announces (at most 256 KiB) into memory: no partial, an interrupted attempt keeps nothing', async () => {
    const data = bytes(200_000, 32);
    const digest = w.server.put('/wheel.whl', data);
    const req = { url: w.server.url('/wheel.whl'), sha256: digest };
    const arrived = bytesArrived(50_000);
    w.server.fault('/wheel.whl', { dropAfter: 50_000, dropWhen: arrived.promise });
    const err = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once, onBytes: arrived.count }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).transient).toBe(true);
    expect((err as FetchError).message).not.toContain('kept');
    expect(await listCache(w.cacheDir)).toEqual([]);

    const got = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once });
    expect(got).toMatchObject({ sha256: digest, size: data.length, fromCache: false, fetchedBytes: data.length });
    expect(sha(await readFile(got.path))).toBe(digest);
    expect((await stat(got.path)).mode & 0o222).toBe(0);
    expect(w.server.requestsFor('/wheel.whl').map((r) => r.range)).toEqual([undefined, undefined]);
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
  });

  it('refuses a small body of unknown size whose digest does not match, and caches nothing', async () => {
    const data = bytes(20_000, 33);
    w.server.put('/other.whl', data);
    const req = { url: w.server.url('/other.whl'), sha256: 'ab'.repeat(32) };
    await expect(fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once })).rejects.toThrow(IntegrityError);
    expect(await listCache(w.cacheDir)).toEqual([]);
  });

  it("resumes within one call through undici's retry handler when the connection drops mid-body", async () => {
    const data = bytes(300_000, 4);
    const digest = w.server.put('/mid.deb', data);
    w.server.fault('/mid.deb', { dropAfter: 120_000 });
    const got = await fetchToCache(
      { url: w.server.url('/mid.deb'), sha256: digest },
      { cacheDir: w.cacheDir, dispatcher: w.retrying },
    );
    expect(sha(await readFile(got.path))).toBe(sha(data));
    expect(w.server.requestsFor('/mid.deb').map((r) => r.range)).toEqual([undefined, 'bytes=120000-299999']);
    expect(w.server.bytesSent).toBe(data.length);
  });

  it('starts over when the server ignores Range', async () => {
    // above 256 KiB, so the body goes to a partial file that the next attempt can resume
    const data = bytes(300_000, 5);
    const digest = w.server.put('/norange.deb', data);
    const req = { url: w.server.url('/norange.deb'), sha256: digest };
    const arrived = bytesArrived(40_000);
    w.server.fault('/norange.deb', { dropAfter: 40_000, dropWhen: arrived.promise, ignoreRange: true });
    await expect(fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once, onBytes: arrived.count })).rejects.toThrow(
      FetchError,
    );

    const got = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once });
    expect(sha(await readFile(got.path))).toBe(sha(data));
    expect(got.fetchedBytes).toBe(data.length);
    expect(w.server.requestsFor('/norange.deb')[1]).toMatchObject({ range: 'bytes=40000-', status: 200 });
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
  });

  it('does not splice a partial onto a file that changed upstream (If-Range fails, the whole new file comes)', async () => {
    const old = bytes(80_000, 8);
    w.server.put('/latest.tar', old);
    const arrived = bytesArrived(30_000);
    w.server.fault('/latest.tar', { dropAfter: 30_000, dropWhen: arrived.promise });
    const req = { url: w.server.url('/latest.tar') };
    await expect(fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once, onBytes: arrived.count })).rejects.toThrow(
      FetchError,
    );

    const fresh = bytes(90_000, 9);
    w.server.put('/latest.tar', fresh);
    const got = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.once });
    expect(w.server.requestsFor('/latest.tar')[1]).toMatchObject({ range: 'bytes=30000-', status: 200 });
    expect(got.sha256).toBe(sha(fresh));
    expect(sha(await readFile(got.path))).toBe(sha(fresh));
  });

  it('replaces a damaged partial: the resumed result does not match, so one clean download decides', async () => {
    const data = bytes(50_000, 10);
    const digest = w.server.put('/d.deb', data);
    await mkdir(join(w.cacheDir, 'partial', digest), { recursive: true });
    await writeFile(join(w.cacheDir, 'partial', digest, 'data'), Buffer.alloc(20_000, 0x55));
    const got = await fetchToCache({ url: w.server.url('/d.deb'), sha256: digest }, { cacheDir: w.cacheDir, dispatcher: w.once });
    expect(sha(await readFile(got.path))).toBe(sha(data));
    expect(w.server.requestsFor('/d.deb').map((r) => r.range)).toEqual(['bytes=20000-', undefined]);
  });

  it('keeps the partial when the caller cancels, and the next call resumes it', async () => {
    const data = bytes(320_000, 15);
    const digest = w.server.put('/slow.deb', data);
    const abort = new AbortController();
    const arrived = bytesArrived(50_000);
    void arrived.promise.then(() => abort.abort());
    w.server.fault('/slow.deb', { dropAfter: 50_000, dropWhen: new Promise(() => {}) });
    const req = { url: w.server.url('/slow.deb'), sha256: digest };
    const err = await fetchToCache(req, {
      cacheDir: w.cacheDir,
      dispatcher: w.retrying,
      signal: abort.signal,
      onBytes: arrived.count,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as Error).message).toMatch(/was cancelled\. 50000 bytes are kept/);

    const got = await fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.retrying });
    expect(got.fetchedBytes).toBe(270_000);
    expect(sha(await readFile(got.path))).toBe(digest);
  });

  it('treats a server that stops sending as a transient failure and resumes after the idle timeout', async () => {
    const data = bytes(90_000, 16);
    const digest = w.server.put('/stall.deb', data);
    w.server.fault('/stall.deb', { dropAfter: 30_000, dropWhen: new Promise(() => {}) });
    const impatient = createDispatcher({ maxRetries: 2, minTimeout: 10, idleTimeout: 300 });
    try {
      const got = await fetchToCache({ url: w.server.url('/stall.deb'), sha256: digest }, { cacheDir: w.cacheDir, dispatcher: impatient });
      expect(sha(await readFile(got.path))).toBe(digest);
      expect(w.server.requestsFor('/stall.deb').map((r) => r.range)).toEqual([undefined, 'bytes=30000-89999']);
    } finally {
      await impatient.close();
    }
  });

  it('follows redirects (mirror redirectors, CDNs)', async () => {
    const data = bytes(5000, 17);
    const digest = w.server.put('/cdn/x.deb', data);
    w.server.fault('/x.deb', { redirectTo: '/cdn/x.deb' });
    const got = await fetchToCache({ url: w.server.url('/x.deb'), sha256: digest }, { cacheDir: w.cacheDir, dispatcher: w.retrying });
    expect(got.sha256).toBe(digest);
    expect(w.server.seen.map((r) => [r.path, r.status])).toEqual([
      ['/x.deb', 302],
      ['/cdn/x.deb', 200],
    ]);
  });

  it('retries after a 503 and after a connection reset, with back-off', async () => {
    const d1 = w.server.put('/busy', bytes(10_000, 11));
    const d2 = w.server.put('/flaky', bytes(10_000, 12));
    w.server.fault('/busy', { status: { code: 503, times: 2 } });
    w.server.fault('/flaky', { reset: 2 });
    const a = await fetchToCache({ url: w.server.url('/busy'), sha256: d1 }, { cacheDir: w.cacheDir, dispatcher: w.retrying });
    expect(a.sha256).toBe(d1);
    expect(w.server.requestsFor('/busy').map((r) => r.status)).toEqual([503, 503, 200]);
    const b = await fetchToCache({ url: w.server.url('/flaky'), sha256: d2 }, { cacheDir: w.cacheDir, dispatcher: w.retrying });
    expect(b).toMatchObject({ sha256: d2, fromCache: false });
    expect(w.server.requestsFor('/flaky').map((r) => r.status)).toEqual([0, 0, 200]);
  });

  it('gives up after its retries with a transient FetchError naming the URL and the status', async () => {
    w.server.put('/down', bytes(10));
    w.server.fault('/down', { status: { code: 503, times: 100 } });
    const err = (await fetchToCache({ url: w.server.url('/down') }, { cacheDir: w.cacheDir, dispatcher: w.retrying }).catch(
      (e: unknown) => e,
    )) as FetchError;
    expect(err).toBeInstanceOf(FetchError);
    expect(err).toMatchObject({ transient: true, status: 503, url: w.server.url('/down') });
    expect(err.message).toMatch(/HTTP 503 .*try again later/);
    expect(w.server.requestsFor('/down')).toHaveLength(4);
    expect(await listCache(w.cacheDir)).toEqual([]);
  });

  it('reports a missing file as a permanent FetchError with status 404 and caches nothing', async () => {
    const err = (await fetchToCache({ url: w.server.url('/gone.deb') }, { cacheDir: w.cacheDir, dispatcher: w.retrying }).catch(
      (e: unknown) => e,
    )) as FetchError;
    expect(err).toBeInstanceOf(FetchError);
    expect(err).toMatchObject({ transient: false, status: 404 });
    expect(err.message).toContain(`GET ${w.server.url('/gone.deb')}: HTTP 404`);
    expect(w.server.requestsFor('/gone.deb')).toHaveLength(1);
    expect(await listCache(w.cacheDir)).toEqual([]);
  });

  it('refuses content whose sha256 does not match: IntegrityError naming URL and both digests, nothing cached', async () => {
    const data = bytes(70_000, 12);
    w.server.put('/evil.deb', data);
    const expected = 'ab'.repeat(32);
    const err = (await fetchToCache(
      { url: w.server.url('/evil.deb'), sha256: expected, size: data.length },
      { cacheDir: w.cacheDir, dispatcher: w.retrying },
    ).catch((e: unknown) => e)) as IntegrityError;
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.message).toContain(w.server.url('/evil.deb'));
    expect(err.message).toContain(`expected sha256 ${expected}, found ${sha(data)}`);
    expect(await listCache(w.cacheDir)).toEqual([]);
  });

  it('refuses a body larger than the expected size as soon as the server announces it', async () => {
    const data = bytes(70_000, 13);
    const digest = w.server.put('/fat.deb', data);
    const err = await fetchToCache(
      { url: w.server.url('/fat.deb'), sha256: digest, size: 1000 },
      { cacheDir: w.cacheDir, dispatcher: w.retrying },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toContain('expected 1000 bytes, the server announces 70000');
    expect(await listCache(w.cacheDir)).toEqual([]);
  });

  it('stops a body that runs past the expected size mid-stream, once its pending writes settled: nothing cached, no file left open', async () => {
    const data = bytes(3 << 20, 21);
    const digest = w.server.put('/long.deb', data);
    // chunked: no length announced, so the size check happens while the body is being written
    w.server.fault('/long.deb', { chunked: true });
    const err = await fetchToCache({ url: w.server.url('/long.deb'), sha256: digest, size: 1 << 20 }, { cacheDir: w.cacheDir, dispatcher: w.retrying }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toContain(`expected ${1 << 20} bytes, received more than`);
    expect(await listCache(w.cacheDir)).toEqual([]);
    const open = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    expect(open.filter((target) => target.startsWith(w.cacheDir))).toEqual([]);
  });

  it('copies from a local mirror given as a file:// URL or a plain path, verified like a download', async () => {
    const data = bytes(4000, 14);
    const file = join(w.cacheDir, '..', `ferry-fetch-mirror-${process.pid}.deb`);
    await writeFile(file, data);
    const digest = sha(data);
    const stats = createFetchStats();
    const got = await fetchToCache({ url: pathToFileURL(file).href, sha256: digest }, { cacheDir: w.cacheDir, stats });
    expect(sha(await readFile(got.path))).toBe(sha(data));
    expect(stats).toMatchObject({ fetchedBytes: 4000, fetchedFiles: 1 });
    await expect(fetchToCache({ url: file, sha256: 'cd'.repeat(32) }, { cacheDir: w.cacheDir })).rejects.toThrow(IntegrityError);
    await expect(fetchToCache({ url: file + '.missing' }, { cacheDir: w.cacheDir })).rejects.toThrow(/no such file/);
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
  });

  it('refuses a malformed sha256 or an unsupported URL with a message saying what to fix', async () => {
    await expect(fetchToCache({ url: w.server.url('/a'), sha256: 'xyz' }, { cacheDir: w.cacheDir })).rejects.toThrow(
      /"xyz" is not a sha256/,
    );
    await expect(fetchToCache({ url: 'ftp://host/a' }, { cacheDir: w.cacheDir })).rejects.toThrow(/use an http\(s\):\/\/ or file:\/\//);
  });
});
