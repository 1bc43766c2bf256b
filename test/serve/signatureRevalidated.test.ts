import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { curl } from './curl.js';
import { ferry } from '../helpers/cli.js';
import { makeStore, sampleBundleFiles, type StoredBundle, type TestStore } from './makeStore.js';
import { freePort, runNginx, type RunningNginx } from './runNginx.js';
import { spawnServe, type ServeProcess } from './spawnServe.js';

/**
 * /bundles/DIGEST/manifest.json.asc was answered `Cache-Control: public, max-age=31536000, immutable`, by ferry
 * serve and by the nginx configuration it writes, like every file of a bundle: but it is the one file of a
 * bundle folder that changes (ferry import replaces a damaged stored signature with the bundle's verified
 * one), and a cache kept the damaged one for a year. It is now revalidated (`no-cache`), with an ETag that
 * changes when it is replaced; the bundle's other files stay immutable.
 */
describe('manifest.json.asc under /bundles/ is revalidated, by ferry serve and by nginx', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let serve: ServeProcess;
  let nginx: RunningNginx;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('app', '1.0.0', sampleBundleFiles());
    const port = await freePort();
    const config = await ferry(['serve', '--nginx-config', '--store', t.store, '--listen', `127.0.0.1:${port}`]);
    expect(config.code, config.stderr).toBe(0);
    nginx = await runNginx(config.stdout, port);
    serve = await spawnServe(['--store', t.store, '--listen', '127.0.0.1:0', '--workers', '1']);
  }, 60_000);
  afterAll(async () => {
    serve?.child.kill();
    await serve?.exited;
    await nginx?.stop();
    await t?.cleanup();
  });

  it('no-cache for the signature, immutable for the manifest; a replaced signature gets a new ETag', async () => {
    const path = `/bundles/${bundle.digest}/manifest.json.asc`;
    const before: Record<string, string> = {};
    for (const [who, base] of [['ferry', serve.url], ['nginx', nginx.url]] as const) {
      const sig = await curl(`${base}${path}`);
      expect([who, sig.status, sig.headers['cache-control']]).toEqual([who, 200, 'no-cache']);
      before[who] = sig.headers.etag!;
      expect((await curl('-H', `If-None-Match: ${before[who]}`, `${base}${path}`)).status).toBe(304);
      const manifest = await curl(`${base}/bundles/${bundle.digest}/manifest.json`);
      expect([who, manifest.status, manifest.headers['cache-control']]).toEqual([who, 200, 'public, max-age=31536000, immutable']);
    }

    // replaced as ferry import replaces it: a new file renamed over the old one (another time, as a later import's)
    const file = join(t.store, 'bundles', bundle.digest, 'manifest.json.asc');
    const replacement = Buffer.from('-----BEGIN PGP SIGNATURE-----\n\nthe mended signature\n-----END PGP SIGNATURE-----\n');
    const old = await stat(file);
    await writeFile(`${file}.new`, replacement);
    await utimes(`${file}.new`, old.atime, new Date(old.mtimeMs + 10_000));
    await rename(`${file}.new`, file);

    const fromNginx = await curl('-H', `If-None-Match: ${before.nginx}`, `${nginx.url}${path}`);
    expect([fromNginx.status, fromNginx.body.toString()]).toEqual([200, replacement.toString()]);
    expect(fromNginx.headers.etag).not.toBe(before.nginx);
    // ferry serve notices the replacement at its once-a-second look at the bundle
    await vi.waitFor(
      async () => {
        const r = await curl('-H', `If-None-Match: ${before.ferry}`, `${serve.url}${path}`);
        expect([r.status, r.body.toString(), r.headers.etag, r.headers['cache-control']]).toEqual([200, replacement.toString(), `"${createHash('sha256').update(replacement).digest('hex')}"`, 'no-cache']);
      },
      { timeout: 20_000, interval: 100 },
    );
  }, 60_000);
});
