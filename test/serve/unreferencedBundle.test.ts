import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { curl } from './curl.js';
import { makeStore, type StoredBundle, type TestStore } from './makeStore.js';
import { startServer, type TestServer } from './startServer.js';
import { until } from '../helpers/until.js';

/**
 * /bundles/DIGEST/... was served for any complete tree under STORE/bundles, ref or not: an import killed
 * between publishing its tree and creating its ref, or a release whose ref the operator removed to
 * withdraw it (or gc is removing), was still downloadable by digest. A release is visible only through its
 * ref (README, the store): a tree no ref names answers 404.
 */
describe('ferry serve: a bundle tree that no ref names is not served', () => {
  let t: TestStore;
  let live: StoredBundle;
  let orphan: StoredBundle;
  let server: TestServer;

  beforeAll(async () => {
    t = await makeStore();
    live = await t.addBundle('app', '1', { 'files/a/conf': 'live\n' });
    orphan = await t.addBundle('app', '2', { 'files/a/conf': 'never published\n' });
    // as an import killed before its ref leaves it (or an operator withdrawing 2)
    await unlink(join(t.store, 'refs', 'app', '2'));
    server = await startServer(t.store);
  });
  afterAll(async () => {
    await server.close(1000);
    await t.cleanup();
  });

  it('answers 404 for the tree without a ref, 200 for the release beside it', async () => {
    const ok = await curl(`${server.url}/bundles/${live.digest}/files/a/conf`);
    expect([ok.status, ok.body.toString()]).toEqual([200, 'live\n']);
    for (const path of ['files/a/conf', 'manifest.json', 'manifest.json.asc']) {
      const r = await curl(`${server.url}/bundles/${orphan.digest}/${path}`);
      expect([path, r.status, r.body.toString()]).toEqual([path, 404, 'not found\n']);
    }
    expect(server.accessLog.filter((e) => e.target.startsWith(`/bundles/${orphan.digest}/`)).map((e) => e.reason)).toEqual(Array(3).fill('no release names this bundle'));
  });

  it('serves the tree once a ref names it, and stops when the ref goes', async () => {
    await t.setRef('app', '2', orphan.digest);
    const url = `${server.url}/bundles/${orphan.digest}/files/a/conf`;
    await until('the new ref is seen', async () => (await curl(url)).status === 200);
    expect((await curl(url)).body.toString()).toBe('never published\n');
    await unlink(join(t.store, 'refs', 'app', '2'));
    await until('the removed ref is seen', async () => (await curl(url)).status === 404);
  });
});
