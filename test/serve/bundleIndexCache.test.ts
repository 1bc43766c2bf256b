import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BundleIndexCache } from '../../src/serve/bundleIndexCache.js';
import { makeStore, type TestStore } from './makeStore.js';

// the clock is the only thing faked: reads and stats go to a real store on disk
describe('BundleIndexCache: a removed bundle is forgotten within a second of the clock, not by chance', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await makeStore();
  });
  afterAll(async () => {
    await t.cleanup();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps serving from memory until a second has passed since the manifest was seen, then checks and forgets it', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    const b = await t.addBundle('doomed', '1', { 'files/a/conf': 'bye\n' });
    const cache = new BundleIndexCache(t.store);
    const first = await cache.get(b.digest);
    expect(first?.files.get('files/a/conf')?.size).toBe(4);
    expect(cache.reusableUntil(b.digest)).toBe(1_001_000);

    await rm(join(t.store, 'bundles', b.digest), { recursive: true });
    // within the second: no check, the index stays (answers from memory may still be reused until then)
    vi.setSystemTime(1_000_999);
    expect(await cache.get(b.digest)).toBe(first);
    // past it: one look at the disk, which finds the manifest gone, and the bundle is forgotten
    vi.setSystemTime(1_001_001);
    expect(await cache.get(b.digest)).toBe(first);
    await vi.waitFor(async () => expect(await cache.get(b.digest)).toBeUndefined());
    expect(cache.reusableUntil(b.digest)).toBeLessThanOrEqual(1_001_000);
  });

  it('a bundle still in place is seen again at each check, so its answers stay reusable a second beyond it', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 2_000_000 });
    const b = await t.addBundle('kept', '1', { 'files/a/conf': 'hi\n' });
    const cache = new BundleIndexCache(t.store);
    const first = await cache.get(b.digest);
    vi.setSystemTime(2_001_500);
    expect(await cache.get(b.digest)).toBe(first);
    await vi.waitFor(() => expect(cache.reusableUntil(b.digest)).toBe(2_002_500));
  });

  it('digests that are not in the store push no loaded bundle out, however many are asked for at once', async () => {
    const b = await t.addBundle('kept', '2', { 'files/a/conf': 'hi\n' });
    const cache = new BundleIndexCache(t.store, 4);
    const first = await cache.get(b.digest);
    expect(first).toBeDefined();
    // a client asking for made-up digests, more at once than the cache holds bundles
    const missing = await Promise.all(Array.from({ length: 40 }, () => cache.get(randomBytes(32).toString('hex'))));
    expect(missing.every((m) => m === undefined)).toBe(true);
    // still the index parsed once, not the manifest read and parsed again
    expect(await cache.get(b.digest)).toBe(first);
  });
  it('keeps the indexes within a bound on their entries together, the most recent first, not only a count of bundles', async () => {
    const files = (tag: string) => Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`files/${tag}/f${i}`, `${tag} ${i}\n`]));
    const a = await t.addBundle('big-a', '1', files('a'));
    const b = await t.addBundle('big-b', '1', files('b'));
    const small = await t.addBundle('small', '1', { 'files/s/conf': 's\n' });
    // room for one of the two large indexes (6 files and the manifest) and the small one
    const cache = new BundleIndexCache(t.store, 32, 11);
    const firstA = await cache.get(a.digest);
    const firstSmall = await cache.get(small.digest);
    expect(firstA?.files.size).toBe(7);
    const firstB = await cache.get(b.digest);
    // b pushed out the least recently used: a, parsed again when asked for; the small one stays
    expect(await cache.get(small.digest)).toBe(firstSmall);
    expect(await cache.get(b.digest)).toBe(firstB);
    const againA = await cache.get(a.digest);
    expect(againA).not.toBe(firstA);
    expect(againA?.files).toEqual(firstA?.files);
    // and a pushed out b in turn; one index larger than the bound is kept while it is the most recent
    expect(await cache.get(b.digest)).not.toBe(firstB);
    const tiny = new BundleIndexCache(t.store, 32, 3);
    const only = await tiny.get(a.digest);
    expect(await tiny.get(a.digest)).toBe(only);
  });
});
