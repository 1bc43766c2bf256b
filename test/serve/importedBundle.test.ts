import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest, type Manifest } from '../../src/bundle/manifest.js';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { importDemoBundle } from '../helpers/demoBundle.js';
import { curl } from './curl.js';
import { freePort, runNginx, type RunningNginx } from './runNginx.js';
import { spawnServe, type ServeProcess } from './spawnServe.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a bundle built by ferry build and imported by ferry import is served by ferry serve and nginx', () => {
  let dir: string;
  let store: string;
  let digest: string;
  let manifest: Manifest;
  let serve: ServeProcess;
  let nginx: RunningNginx;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-serve-import-'));
    // nginx's workers run as www-data: they must be able to walk to the store
    await chmod(dir, 0o755);
    const team = await writeKey(dir, 'team');
    ({ store, digest } = await importDemoBundle(dir, team));
    manifest = parseManifest(await readFile(join(store, 'bundles', digest, 'manifest.json')), 'manifest.json');
    serve = await spawnServe(['--store', store, '--listen', '127.0.0.1:0', '--json']);
    const port = await freePort();
    const config = await ferry(['serve', '--nginx-config', '--store', store, '--listen', `127.0.0.1:${port}`]);
    expect(config.code, config.stderr).toBe(0);
    nginx = await runNginx(config.stdout, port);
  });
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await nginx?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('import left the release symlink that nginx follows', async () => {
    expect(await readlink(join(store, 'releases', 'demo', '1.0.0'))).toBe(`../../bundles/${digest}`);
  });

  it('serves every manifest entry, by digest and by name, with the manifest sha256 as ETag', async () => {
    expect(manifest.entries.length).toBeGreaterThan(0);
    for (const e of manifest.entries) {
      for (const url of [`${serve.url}/bundles/${digest}/${e.path}`, `${serve.url}/releases/demo/1.0.0/${e.path}`]) {
        const r = await curl(url);
        expect([e.path, r.status]).toEqual([e.path, 200]);
        expect(sha256(r.body)).toBe(e.sha256);
        expect(r.headers.etag).toBe(`"${e.sha256}"`);
      }
    }
  });

  it('serves the signed manifest and its signature', async () => {
    const m = await curl(`${serve.url}/releases/demo/1.0.0/manifest.json`);
    expect(sha256(m.body)).toBe(digest);
    const sig = await curl(`${serve.url}/releases/demo/1.0.0/manifest.json.asc`);
    expect(sig.headers['content-type']).toBe('application/pgp-signature');
    expect(sig.body.toString()).toContain('BEGIN PGP SIGNATURE');
  });

  it('nginx serves the same bytes by name', async () => {
    for (const e of manifest.entries) {
      const r = await curl(`${nginx.url}/releases/demo/1.0.0/${e.path}`);
      expect([e.path, r.status]).toEqual([e.path, 200]);
      expect(sha256(r.body)).toBe(e.sha256);
    }
  });

  it('lists the release at /releases/ on both servers', async () => {
    for (const base of [serve.url, nginx.url]) {
      const list = JSON.parse((await curl(`${base}/releases/`)).body.toString()) as { releases: unknown[] };
      expect(list.releases).toEqual([{ name: 'demo', version: '1.0.0', digest, url: '/releases/demo/1.0.0/', bundle_url: `/bundles/${digest}/` }]);
    }
  });
});
