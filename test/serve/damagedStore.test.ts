import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { curl } from './curl.js';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { startServer, type TestServer } from './startServer.js';

describe('ferry serve on a damaged store: refuses to serve wrong bytes, tells the operator what to do', () => {
  let t: TestStore;
  let good: StoredBundle;
  let server: TestServer;

  beforeAll(async () => {
    t = await makeStore();
    good = await t.addBundle('openstack', '2026.11.0', sampleBundleFiles());
    server = await startServer(t.store);
  });
  afterAll(async () => {
    await server.close(1000);
    await t.cleanup();
  });

  it('answers 500 for a file whose size differs from its manifest entry, and warns naming it', async () => {
    const damaged = await t.addBundle('damaged', '1', { 'files/a/conf': 'abc\n' });
    const file = join(t.store, 'bundles', damaged.digest, 'files/a/conf');
    await chmod(file, 0o644);
    await appendFile(file, 'tampered');
    const r = await curl(`${server.url}/bundles/${damaged.digest}/files/a/conf`);
    expect(r.status).toBe(500);
    expect(r.body.toString()).toBe('internal error\n');
    expect(server.warnings.at(-1)).toContain(`${file} has 12 bytes but its manifest says 4: the store is damaged; re-import the bundle`);
  });

  // a blob asked for by its hash has no manifest entry: a large one was sent as it was, 200, whole, under a name
  // its bytes did not hash to (a small one was already checked)
  it('answers 500 for a large blob by hash whose bytes no longer hash to its name, overwritten or truncated, and warns', async () => {
    // a store of its own: the releases of the one above are listed by a test below
    const own = await makeStore();
    const server = await startServer(own.store);
    const content = Buffer.alloc(3 * 1024 * 1024, 0x42);
    const damaged = await own.addBundle('damaged-blob', '1', { 'rootfs/big.tar.gz': content });
    const hex = damaged.files.get('rootfs/big.tar.gz')!.sha256;
    const blob = join(own.store, 'blobs', 'sha256', hex);
    try {
      const url = `${server.url}/blobs/sha256/${hex}`;
      const intact = await curl(url);
      expect([intact.status, intact.body.equals(content)]).toEqual([200, true]);
      await chmod(blob, 0o644);
      // same size, other bytes
      const other = Buffer.from(content);
      other[other.length - 1] = 0x43;
      await writeFile(blob, other);
      const overwritten = await curl(url);
      expect([overwritten.status, overwritten.body.toString()]).toEqual([500, 'internal error\n']);
      expect(server.warnings.at(-1)).toContain(`${blob} has sha256 `);
      expect(server.warnings.at(-1)).toContain(`but is named ${hex}: the store is damaged`);
      // shorter, as a disk full or an interrupted copy leaves it
      await writeFile(blob, content.subarray(0, 1024 * 1024));
      const truncated = await curl(url);
      expect([truncated.status, truncated.body.toString()]).toEqual([500, 'internal error\n']);
      // a range of it is refused too: no byte of a blob that does not match its name
      const range = await curl(url, '-r', '0-99');
      expect(range.status).toBe(500);
      // mended (as an import rewrites it), it is served again
      await writeFile(blob, content);
      const mended = await curl(url);
      expect([mended.status, mended.body.equals(content)]).toEqual([200, true]);
    } finally {
      await server.close(1000);
      await own.cleanup();
    }
  });

  it('answers 500 for a small file whose bytes differ from its sha256 (same size), and warns naming it', async () => {
    const damaged = await t.addBundle('damaged', '2', { 'files/a/conf': 'abc\n' });
    const file = join(t.store, 'bundles', damaged.digest, 'files/a/conf');
    await chmod(file, 0o644);
    await writeFile(file, 'xyz\n');
    const r = await curl(`${server.url}/bundles/${damaged.digest}/files/a/conf`);
    expect(r.status).toBe(500);
    expect(server.warnings.at(-1)).toContain(`${file} has sha256 `);
    expect(server.warnings.at(-1)).toContain(`but its manifest says ${damaged.files.get('files/a/conf')!.sha256}: the store is damaged; re-import the bundle`);
  });

  it('answers 500 for a small file whose bytes differ from its sha256 without a memory cache too (--cache 0)', async () => {
    // a store of its own: the releases of the one above are listed by a test below
    const own = await makeStore();
    const uncached = await startServer(own.store, { cacheBytes: 0 });
    try {
      const intact = await own.addBundle('openstack', '2026.11.0', sampleBundleFiles());
      const damaged = await own.addBundle('damaged', '3', { 'files/a/conf': 'abc\n' });
      const file = join(own.store, 'bundles', damaged.digest, 'files/a/conf');
      await chmod(file, 0o644);
      await writeFile(file, 'xyz\n');
      for (const path of [`/bundles/${damaged.digest}/files/a/conf`, '/releases/damaged/3/files/a/conf']) {
        const r = await curl(`${uncached.url}${path}`);
        expect([path, r.status, r.body.toString()]).toEqual([path, 500, 'internal error\n']);
      }
      expect(uncached.warnings.at(-1)).toContain(`${file} has sha256 `);
      // an intact small file is still served, read and checked again each time
      for (let i = 0; i < 2; i++) expect((await curl(`${uncached.url}/releases/openstack/2026.11.0/apt/dists/bookworm/Release`)).body.equals(intact.files.get('apt/dists/bookworm/Release')!.content)).toBe(true);
    } finally {
      await uncached.close(1000);
      await own.cleanup();
    }
  });

  // how soon (a second of the server's clock) is bundleIndexCache.test.ts's, with the clock in the test's hands;
  // here: it does stop, and only ever says 200 (the old bytes) or 404 on the way, never anything else
  it('stops serving a removed bundle (ferry gc), memory cache included', async () => {
    const doomed = await t.addBundle('doomed', '1', { 'files/a/conf': 'bye\n' });
    const url = `${server.url}/bundles/${doomed.digest}/files/a/conf`;
    expect((await curl(url)).status).toBe(200);
    await rm(join(t.store, 'bundles', doomed.digest), { recursive: true });
    const seen = new Set<string>();
    for (let r = await curl(url); r.status !== 404; r = await curl(url)) {
      seen.add(`${r.status} ${r.body.toString()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect([...seen].filter((s) => s !== '200 bye\n')).toEqual([]);
    expect((await curl(url)).status).toBe(404);
  });

  it('answers 500 for a bundle whose manifest does not hash to its folder name', async () => {
    const fake = 'e'.repeat(64);
    await mkdir(join(t.store, 'bundles', fake));
    await writeFile(join(t.store, 'bundles', fake, 'manifest.json'), good.files.get('manifest.json')!.content);
    const r = await curl(`${server.url}/bundles/${fake}/manifest.json`);
    expect(r.status).toBe(500);
    expect(server.warnings.at(-1)).toContain(`does not hash to its folder name ${fake}`);
  });

  it('answers 404 for a release whose bundle is gone, and warns', async () => {
    await t.setRef('gone', '1', 'c'.repeat(64));
    const r = await curl(`${server.url}/releases/gone/1/manifest.json`);
    expect(r.status).toBe(404);
    expect(server.warnings.at(-1)).toContain(`release gone 1 names bundle ${'c'.repeat(64)}, which is not in the store`);
  });

  it('answers 500 for a ref that does not hold a digest, and leaves it out of /releases/', async () => {
    await mkdir(join(t.store, 'refs', 'broken'), { recursive: true });
    await writeFile(join(t.store, 'refs', 'broken', '1'), 'not a digest\n');
    expect((await curl(`${server.url}/releases/broken/1/manifest.json`)).status).toBe(500);
    expect(server.warnings.at(-1)).toContain('should hold a bundle digest');
    const list = JSON.parse((await curl(`${server.url}/releases/`)).body.toString()) as { releases: Array<{ name: string }> };
    expect(list.releases.map((r) => r.name)).toEqual(['damaged', 'damaged', 'doomed', 'gone', 'openstack']);
    expect(server.warnings.at(-1)).toContain('broken/1: does not hold a bundle digest');
  });
});
