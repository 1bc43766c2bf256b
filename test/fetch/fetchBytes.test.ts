import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
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
    const { status, body } = await fetchBytes(w.server.url('/dists/stable/InRelease'), { stats, dispatcher: w.retrying });
    expect(status).toBe(200);
    expect(body.toString()).toBe('Suite: stable\n');
    expect(stats).toMatchObject({ fetchedBytes: 14, fetchedFiles: 1 });
    expect(await listCache(w.cacheDir)).toEqual([]);
  });

  it('reads a local mirror through a file:// URL or an absolute path', async () => {
    const file = join(w.cacheDir, 'Packages');
    await writeFile(file, 'Package: a\n');
    expect((await fetchBytes(pathToFileURL(file).href)).body.toString()).toBe('Package: a\n');
    expect((await fetchBytes(file)).body.toString()).toBe('Package: a\n');
  });

  it('refuses what in a local mirror is not a regular file (a FIFO it would wait on forever, a device), and a file over the cap, without reading it', async () => {
    const fifo = join(w.cacheDir, `InRelease-fifo-${process.pid}`);
    execFileSync('mkfifo', [fifo]);
    const device = join(w.cacheDir, `Packages-device-${process.pid}`);
    await symlink('/dev/null', device);
    try {
      const read = fetchBytes(pathToFileURL(fifo).href).catch((e: unknown) => e);
      const verdict = await Promise.race([read, new Promise((r) => setTimeout(r, 5000, 'still waiting'))]);
      expect(verdict).toBeInstanceOf(FetchError);
      expect((verdict as Error).message).toBe(`${fifo} is not a regular file: ferry reads only regular files from local folders`);
      const dev = await fetchBytes(device).catch((e: unknown) => e);
      expect(dev).toBeInstanceOf(FetchError);
      expect((dev as Error).message).toBe(`${device} is not a regular file: ferry reads only regular files from local folders`);
      const big = join(w.cacheDir, 'Packages-big');
      await writeFile(big, Buffer.alloc(5000));
      await expect(fetchBytes(big, { maxBytes: 4096 })).rejects.toThrow(/larger than the 4096-byte limit/);
    } finally {
      // a reader the old code left waiting in open(2) on the FIFO is let go by a writer's open
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting (ENXIO): nothing to let go
      }
    }
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

  it('answers any status with its headers when asked, so a caller can read a 404 as "no such project"', async () => {
    const stats = createFetchStats();
    const missing = await fetchBytes(w.server.url('/simple/nothing/'), { anyStatus: true, stats, dispatcher: w.retrying });
    expect(missing.status).toBe(404);
    expect(missing.headers['content-length']).toBe('0');
    w.server.put('/simple/a/', Buffer.from('<a href="a-1.whl">a-1.whl</a>'));
    const page = await fetchBytes(w.server.url('/simple/a/'), { anyStatus: true, stats, dispatcher: w.retrying });
    expect({ status: page.status, body: page.body.toString() }).toEqual({ status: 200, body: '<a href="a-1.whl">a-1.whl</a>' });
    expect(stats).toMatchObject({ fetchedBytes: 29 });
  });

  it('sends the headers it is given next to its user agent (PEP 691 asks for JSON through Accept)', async () => {
    w.server.put('/simple/a/', Buffer.from('{}'));
    const accept = 'application/vnd.pypi.simple.v1+json, text/html;q=0.01';
    await fetchBytes(w.server.url('/simple/a/'), { headers: { accept }, dispatcher: w.retrying });
    expect(w.server.requestsFor('/simple/a/')).toMatchObject([{ method: 'GET', accept, status: 200 }]);
  });

  it('reads only the status and headers on HEAD: a size larger than the cap is announced, no body is counted', async () => {
    w.server.put('/a-1.whl', Buffer.alloc(5000));
    const stats = createFetchStats();
    const head = await fetchBytes(w.server.url('/a-1.whl'), { method: 'HEAD', maxBytes: 0, stats, dispatcher: w.retrying });
    expect({ status: head.status, size: head.headers['content-length'], body: head.body.length }).toEqual({ status: 200, size: '5000', body: 0 });
    expect(stats).toMatchObject({ fetchedBytes: 0, fetchedFiles: 0 });
    expect(w.server.requestsFor('/a-1.whl')).toMatchObject([{ method: 'HEAD' }]);
    const gone = await fetchBytes(w.server.url('/b-1.whl'), { method: 'HEAD', dispatcher: w.retrying }).catch((e: unknown) => e);
    expect(gone).toMatchObject({ status: 404 });
  });
});
