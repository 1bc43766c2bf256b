import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { link, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeImageRelease } from '../helpers/ociImages.js';
import { startServer } from '../serve/startServer.js';
import { sha256Hex } from '../../src/util/sha256.js';
import type { TestServer } from '../serve/startServer.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const desc = (mediaType: string, data: Buffer) => ({ mediaType, digest: `sha256:${sha256Hex(data)}`, size: data.length });

/**
 * A small signed bundle whose many tags all name one index of many manifests: each image's reachable
 * manifests, configs and layers are walked, held and merged into the catalog on its own, so a few
 * thousand tags of an index of a few thousand manifests (a bundle of a few MiB) kept ferry serve's
 * registry from answering anything for hours (2,000 manifests and 50 tags: 26 s). The catalog reads each
 * manifest once and stops at 250,000 manifests, configs and layers per release (here 100 manifests of
 * 100 layers each: about 10,300 per tag, so the 25th tag of 30 crosses it). Import refuses such a bundle now
 * (test/images/importNamedBound.test.ts); a store can still hold one an earlier ferry imported, so it is
 * written into the store directly, its blobs linked as an import links them.
 */
describe('ferry serve and a release whose images name too many manifests and blobs', () => {
  let dir: string;
  let server: TestServer;
  const TAGS = 30;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-catalog-budget-'));
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = Buffer.from('one layer');
    const layers = Array.from({ length: 100 }, () => desc('application/vnd.oci.image.layer.v1.tar', layer));
    const kids = Array.from({ length: 100 }, (_, i) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers, annotations: { i: String(i) } })));
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: kids.map((k) => desc(OCI_MANIFEST, k)) }));
    const layout = join(dir, 'layout');
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    for (const b of [config, layer, ...kids, index]) await writeFile(join(layout, 'blobs', 'sha256', sha256Hex(b)), b);
    await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [desc(OCI_INDEX, index)] }));
    const images = Array.from({ length: TAGS }, (_, i) => ({ ref: `registry.example/team/app:t${String(i).padStart(2, '0')}`, services: ['web'], layout }));
    const store = join(dir, 'store');
    await writeImageRelease(store, images, { name: 'many', version: '1.0.0', services: { web: { version: '1.0.0', groups: ['web'] } } });
    const oci = join(store, 'bundles', (await readFile(join(store, 'refs/many/1.0.0'), 'utf8')).trim(), 'oci/blobs/sha256');
    await mkdir(join(store, 'blobs/sha256'), { recursive: true });
    for (const hex of await readdir(oci)) await link(join(oci, hex), join(store, 'blobs/sha256', hex));
    server = await startServer(store);
  });
  afterAll(async () => {
    await server?.close(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the images up to the bound, not those beyond it, and says so once for the rest', async () => {
    expect((await fetch(`${server.url}/v2/team/app/manifests/t00`)).status).toBe(200);
    expect((await fetch(`${server.url}/v2/team/app/manifests/t23`)).status).toBe(200);
    expect((await fetch(`${server.url}/v2/team/app/manifests/t24`)).status).toBe(404);
    expect((await fetch(`${server.url}/v2/team/app/manifests/t29`)).status).toBe(404);
    const tags = (await (await fetch(`${server.url}/v2/team/app/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toHaveLength(24);
    expect(server.warnings.filter((w) => w.includes('more than 250000 manifests, configs and layers'))).toEqual([
      'release many 1.0.0: image registry.example/team/app:t24 is not served: the release\'s images name more than 250000 manifests, configs and layers in all',
      'release many 1.0.0: 5 of its 30 images (from registry.example/team/app:t25) are not served: the release\'s images name more than 250000 manifests, configs and layers in all',
    ]);
  });
});
