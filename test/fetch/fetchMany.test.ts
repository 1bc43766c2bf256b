import { describe, expect, it } from 'vitest';
import { FetchError, IntegrityError, UsageError } from '../../src/errors.js';
import { createFetchStats } from '../../src/fetch/createFetchStats.js';
import { fetchMany } from '../../src/fetch/fetchMany.js';
import type { Logger } from '../../src/ui/log.js';
import { bytes } from './fixtureServer.js';
import { listCache, useFetchWorld } from './helpers.js';

const w = useFetchWorld();

/** publish `n` files and return requests for them */
function publish(n: number, size = 3000) {
  return Array.from({ length: n }, (_, i) => {
    const data = bytes(size + i, 100 + i);
    const path = `/pool/p${i}.deb`;
    return { url: w.server.url(path), sha256: w.server.put(path, data), size: data.length };
  });
}

describe('fetchMany', () => {
  it('refuses a download limit set wrong in the environment once, as a usage error (exit 64), not as one failure per file', async () => {
    const reqs = publish(3);
    process.env.FERRY_LOW_SPEED_LIMIT = 'fast';
    try {
      const err = await fetchMany(reqs, { cacheDir: w.cacheDir, concurrency: 2, dispatcher: w.retrying }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(/^FERRY_LOW_SPEED_LIMIT "fast" is not a size/);
    } finally {
      delete process.env.FERRY_LOW_SPEED_LIMIT;
    }
    expect(await listCache(w.cacheDir)).toEqual([]);
  });

  it('returns results in input order and a second run is served entirely from the cache', async () => {
    const reqs = publish(8);
    const first = createFetchStats();
    const got = await fetchMany(reqs, { cacheDir: w.cacheDir, concurrency: 3, stats: first, dispatcher: w.retrying });
    expect(got.map((r) => r.sha256)).toEqual(reqs.map((r) => r.sha256));
    const total = reqs.reduce((a, r) => a + r.size, 0);
    expect(first).toMatchObject({ fetchedFiles: 8, fetchedBytes: total, cachedFiles: 0 });

    const sentBefore = w.server.bytesSent;
    const requestsBefore = w.server.seen.length;
    const second = createFetchStats();
    const again = await fetchMany(reqs, { cacheDir: w.cacheDir, concurrency: 3, stats: second, dispatcher: w.retrying });
    expect(again.every((r) => r.fromCache)).toBe(true);
    expect(second).toMatchObject({ fetchedFiles: 0, fetchedBytes: 0, cachedFiles: 8, cachedBytes: total });
    expect(w.server.bytesSent).toBe(sentBefore);
    expect(w.server.seen.length).toBe(requestsBefore);
  });

  it('never has more requests in flight than its concurrency, and does use that many', async () => {
    const reqs = publish(12);
    for (const r of reqs) w.server.fault(new URL(r.url).pathname, { delayMs: 200 });
    await fetchMany(reqs, { cacheDir: w.cacheDir, concurrency: 3, dispatcher: w.retrying });
    expect(w.server.maxActive).toBe(3);
    expect(w.server.seen).toHaveLength(12);
  });

  it('downloads a file listed twice only once', async () => {
    const [req] = publish(1);
    const got = await fetchMany([req!, req!], { cacheDir: w.cacheDir, concurrency: 2, dispatcher: w.retrying });
    expect(got[0]!.path).toBe(got[1]!.path);
    expect(w.server.seen).toHaveLength(1);
  });

  it('tries every file and lists every failure, not just the first', async () => {
    const reqs = publish(5);
    const missing = { url: w.server.url('/pool/missing.deb'), sha256: 'ee'.repeat(32) };
    const tampered = { ...reqs[2]!, sha256: 'ab'.repeat(32) };
    const down = { url: w.server.url('/pool/down.deb') };
    w.server.put('/pool/down.deb', bytes(10));
    w.server.fault('/pool/down.deb', { status: { code: 502, times: 100 } });
    const list = [reqs[0]!, missing, reqs[1]!, tampered, down, reqs[3]!];

    const err = (await fetchMany(list, { cacheDir: w.cacheDir, concurrency: 2, dispatcher: w.retrying }).catch(
      (e: unknown) => e,
    )) as IntegrityError;
    // the gravest failure decides the class (and so the exit code)
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.message).toMatch(/^3 of 6 downloads failed:/);
    expect(err.message).toContain(`${missing.url}: HTTP 404`);
    expect(err.message).toContain(`${tampered.url}: expected sha256 ${tampered.sha256}`);
    expect(err.message).toContain(`${down.url}: HTTP 502`);
    expect((err.cause as AggregateError).errors).toHaveLength(3);
    // what did succeed is in the cache, so the retry only fetches what failed
    const cached = await listCache(w.cacheDir);
    expect(cached).toEqual([reqs[0]!, reqs[1]!, reqs[3]!].map((r) => `sha256/${r.sha256}`).sort());
  });

  it('marks a combined failure transient only when every failure is', async () => {
    w.server.put('/a', bytes(10));
    w.server.put('/b', bytes(10));
    w.server.fault('/a', { status: { code: 503, times: 100 } });
    w.server.fault('/b', { status: { code: 503, times: 100 } });
    const both = [{ url: w.server.url('/a') }, { url: w.server.url('/b') }];
    const err = await fetchMany(both, { cacheDir: w.cacheDir, concurrency: 2, dispatcher: w.retrying }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).transient).toBe(true);

    const mixed = [{ url: w.server.url('/a') }, { url: w.server.url('/nope') }];
    const err2 = await fetchMany(mixed, { cacheDir: w.cacheDir, concurrency: 2, dispatcher: w.retrying }).catch((e: unknown) => e);
    expect((err2 as FetchError).transient).toBe(false);
  });

  it('reports progress in bytes up to the total, and a summary', async () => {
    const reqs = publish(4, 50_000);
    const events: Array<[number, number]> = [];
    const infos: string[] = [];
    const log: Logger = {
      info: (m) => infos.push(m),
      warn() {},
      progress: (_label, done, total, unit) => {
        expect(unit).toBe('bytes');
        events.push([done, total]);
      },
      event() {},
    };
    await fetchMany(reqs.slice(0, 1), { cacheDir: w.cacheDir, concurrency: 2, dispatcher: w.retrying });
    await fetchMany(reqs, { cacheDir: w.cacheDir, concurrency: 2, dispatcher: w.retrying, log, label: 'apt' });
    const total = reqs.reduce((a, r) => a + r.size, 0);
    expect(events[0]).toEqual([0, total]);
    expect(events.at(-1)).toEqual([total, total]);
    expect(events.every(([d], i) => i === 0 || d >= events[i - 1]![0])).toBe(true);
    expect(infos).toEqual([expect.stringMatching(/^apt: 3 fetched \(146\.\d KiB\), 1 from cache \(48\.8 KiB\)$/)]);
  });
});
