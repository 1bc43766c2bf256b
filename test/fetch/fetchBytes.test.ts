import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FetchError } from '../../src/errors.js';
import { createFetchStats } from '../../src/fetch/createFetchStats.js';
import { fetchBytes } from '../../src/fetch/fetchBytes.js';
import { listCache, useFetchWorld } from './helpers.js';

const w = useFetchWorld();

describe('fetchBytes', () => {
  it('reads a small index over HTTP, counting the bytes, and retries a 503', async () => {
    w.server.put('/dists/stable/InRelease', Buffer.from('Suite: stable\n'));
    w.server.fault('/dists/stable/InRelease', { status: { code: 503, times: 1 } });
    const stats = createFetchStats();
    const data = await fetchBytes(w.server.url('/dists/stable/InRelease'), { stats, dispatcher: w.retrying });
    expect(data.toString()).toBe('Suite: stable\n');
    expect(stats).toMatchObject({ fetchedBytes: 14, fetchedFiles: 1 });
    expect(await listCache(w.cacheDir)).toEqual([]);
  });

  it('reads a local mirror through a file:// URL or an absolute path', async () => {
    const file = join(w.cacheDir, 'Packages');
    await writeFile(file, 'Package: a\n');
    expect((await fetchBytes(pathToFileURL(file).href)).toString()).toBe('Package: a\n');
    expect((await fetchBytes(file)).toString()).toBe('Package: a\n');
  });

  it('says 404 in a way callers can fall back on (InRelease → Release), over HTTP and from a local mirror', async () => {
    const http = await fetchBytes(w.server.url('/dists/stable/InRelease'), { dispatcher: w.retrying }).catch((e: unknown) => e);
    expect(http).toBeInstanceOf(FetchError);
    expect(http).toMatchObject({ status: 404, transient: false });
    const local = await fetchBytes(join(w.cacheDir, 'InRelease')).catch((e: unknown) => e);
    expect(local).toMatchObject({ status: 404 });
    expect((local as Error).message).toMatch(/no such file/);
  });

  it('refuses a body over the size cap, whether announced or streamed', async () => {
    w.server.put('/huge', Buffer.alloc(5000));
    await expect(fetchBytes(w.server.url('/huge'), { maxBytes: 4096, dispatcher: w.retrying })).rejects.toThrow(
      /larger than the 4096-byte limit .* raise maxBytes/,
    );
    w.server.put('/endless', Buffer.alloc(200_000));
    w.server.fault('/endless', { chunked: true });
    await expect(fetchBytes(w.server.url('/endless'), { maxBytes: 4096, dispatcher: w.retrying })).rejects.toThrow(
      /larger than the 4096-byte limit/,
    );
    const file = join(w.cacheDir, 'huge');
    await writeFile(file, Buffer.alloc(5000));
    await expect(fetchBytes(file, { maxBytes: 4096 })).rejects.toThrow(/larger than the 4096-byte limit/);
  });
});
