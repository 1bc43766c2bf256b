import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../helpers/cli.js';
import { serveOneImageRelease, type ServedImageRelease } from '../helpers/oneImageRelease.js';

const haveTools = (await run('sh', ['-c', 'command -v umoci'])).code === 0;

/**
 * A config or layer the registry's catalog lists whose file is not in the store (ferry gc removing it within
 * the second the catalog is kept, or a damaged store) was answered with the plain-text 404 of the static
 * routes, still carrying nothing a registry client could read as the spec's error. It is now the spec's JSON
 * error, BLOB_UNKNOWN (MANIFEST_UNKNOWN for a manifest), like any blob the repository does not hold.
 */
describe.skipIf(!haveTools)('a blob the registry lists whose file is gone from the store', () => {
  let t: ServedImageRelease;
  let layer: string;
  beforeAll(async () => {
    t = await serveOneImageRelease('ferry-missing-blob-file', { name: 'app', version: '1.0.0', ref: 'registry.example/team/app:1', files: { 'etc/app.conf': 'app\n' } }, async (store) => {
      const bundle = (await readFile(join(store, 'refs', 'app', '1.0.0'), 'utf8')).trim();
      const release = JSON.parse(await readFile(join(store, 'bundles', bundle, 'manifest.json'), 'utf8')) as { artifacts: { image: { images: Array<{ digest: string }> } } };
      const image = release.artifacts.image.images[0]!.digest.slice('sha256:'.length);
      const manifest = JSON.parse(await readFile(join(store, 'blobs', 'sha256', image), 'utf8')) as { layers: Array<{ digest: string }> };
      layer = manifest.layers[0]!.digest;
      await rm(join(store, 'blobs', 'sha256', layer.slice('sha256:'.length)));
    });
  });
  afterAll(() => t?.stop());

  it('answers 404 with the JSON error BLOB_UNKNOWN, GET and HEAD alike', async () => {
    const url = `${t.serve.url}/v2/team/app/blobs/${layer}`;
    const get = await fetch(url);
    expect(get.status).toBe(404);
    expect(get.headers.get('content-type')).toBe('application/json');
    expect(await get.json()).toEqual({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(head.headers.get('content-type')).toBe('application/json');
    expect(head.headers.get('docker-content-digest')).toBe(null);
  });
});
