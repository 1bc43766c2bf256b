import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { writeImageBundle } from '../helpers/ociImages.js';
import { sha256Hex } from '../../src/util/sha256.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const desc = (mediaType: string, data: Buffer) => ({ mediaType, digest: `sha256:${sha256Hex(data)}`, size: data.length });

/**
 * ferry lock, build and serve share one bound on what a release's images name (250,000 manifests, configs
 * and layers, each image counted on its own: src/util/imageNames.ts), but import did not check it: a signed
 * bundle made otherwise, naming more, was imported and serve left the images past the bound unserved. Import
 * refuses it (exit 68, as the layout's other refusals at import), one line, no release made. Here many tags of
 * one index of 100 manifests of 100 layers: 10,301 per tag, so 24 tags are within the bound and 25 are not.
 */
describe('ferry import and a bundle whose images name more than ferry serve serves of a release', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let layout: string;
  const bundle = async (name: string, tags: number) => {
    const file = join(dir, `${name}.ferry`);
    const images = Array.from({ length: tags }, (_, i) => ({ ref: `registry.example/team/app:t${String(i).padStart(2, '0')}`, services: ['web'], layout }));
    await writeImageBundle(file, await openpgp.readPrivateKey({ armoredKey: team.secretArmored }), images, { name, version: '1.0.0' });
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-import-named-bound-'));
    team = await writeKey(dir, 'team');
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = Buffer.from('one layer');
    const layers = Array.from({ length: 100 }, () => desc('application/vnd.oci.image.layer.v1.tar', layer));
    const kids = Array.from({ length: 100 }, (_, i) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers, annotations: { i: String(i) } })));
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: kids.map((k) => desc(OCI_MANIFEST, k)) }));
    layout = join(dir, 'layout');
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    for (const b of [config, layer, ...kids, index]) await writeFile(join(layout, 'blobs', 'sha256', sha256Hex(b)), b);
    await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [desc(OCI_INDEX, index)] }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuses it (exit 68, one line), nothing imported; one within the bound imports', async () => {
    const store = join(dir, 'store');
    const over = await ferry(['import', await bundle('over', 25), '--keyring', team.public, '--store', store]);
    expect([over.code, over.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: ') || l.startsWith('error')), over.stdout]).toEqual([
      68,
      [
        "ferry: images: with registry.example/team/app:t24 the release's images name more than 250000 manifests, configs and layers in all, more than ferry serve serves of a release; carry fewer images (or split them across releases); nothing was imported (ferry lock and build refuse such images: the bundle was made by something other than ferry build)",
      ],
      '',
    ]);
    expect(await readdir(join(store, 'refs'))).toEqual([]);
    expect(await readdir(join(store, 'bundles'))).toEqual([]);
    expect(await readdir(join(store, '.tmp'))).toEqual([]);
    // the control: 24 tags are within the bound
    const within = await ferry(['import', await bundle('within', 24), '--keyring', team.public, '--store', store]);
    expect(within.code, within.stderr).toBe(0);
    expect(await readdir(join(store, 'refs'))).toEqual(['within']);
  });
});
