import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { writeKey } from '../helpers/keys.js';
import { ferry } from '../helpers/cli.js';
import { handMadeLayout as layout, swapRefNames, writeImageBundle, type IndexEdit } from '../helpers/ociImages.js';

/**
 * A signed bundle whose OCI layout index.json disagrees with manifest.artifacts.image (the images the
 * bundle pins, that plan, diff and the SBOM show): a reference moved to another image the bundle carries,
 * an image left out, another size or media type. `skopeo inspect oci:STORE/bundles/DIGEST/oci:REF` and
 * every tool reading the layout go by index.json, so import refuses it: exit 68, one line, nothing in the store.
 */
describe('import refuses an image layout whose index.json is not the images the manifest pins', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let key: openpgp.PrivateKey;
  let app: string;
  let decoy: string;
  const APP = 'registry.example/team/app:1';
  const DECOY = 'registry.example/team/decoy:1';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-image-index-${process.pid}-`));
    team = await writeKey(dir, 'team');
    key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    app = await layout(join(dir, 'app'), 'the pinned app');
    decoy = await layout(join(dir, 'decoy'), 'a decoy');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  let n = 0;
  async function importWith(edit?: IndexEdit) {
    const name = `rel${++n}`;
    const bundle = join(dir, `${name}.ferry`);
    await writeImageBundle(bundle, key, [{ ref: APP, services: ['web'], layout: app }, { ref: DECOY, services: ['web'], layout: decoy }], { name, version: '1.0.0' }, undefined, edit);
    const store = join(dir, `store-${name}`);
    const r = await ferry(['import', bundle, '--keyring', team.public, '--store', store]);
    const releases = existsSync(join(store, 'refs')) ? await readdir(join(store, 'refs')) : [];
    return { ...r, releases };
  }

  it('the index ferry build writes: imported', async () => {
    const r = await importWith();
    expect(r.code, r.stderr).toBe(0);
    expect(r.releases).toEqual(['rel1']);
  });

  it.each<[string, IndexEdit, RegExp]>([
    ['the app\'s reference on the decoy and back', swapRefNames(APP, DECOY), /manifests\[0\] is named "registry\.example\/team\/decoy:1", the manifest pins registry\.example\/team\/app:1 there/],
    ['the decoy left out', (d) => d.slice(0, 1), /names 1 image\(s\), the manifest pins 2/],
    ['the images in the other order', (d) => [...d].reverse(), /manifests\[0\] is named "registry\.example\/team\/decoy:1"/],
    ['the app one byte longer', (d) => d.map((x, i) => (i === 0 ? { ...x, size: x.size + 1 } : x)), /manifests\[0\] \(registry\.example\/team\/app:1\) gives size \d+, its blob has \d+ bytes/],
    ['the app as a Docker manifest', (d) => d.map((x, i) => (i === 0 ? { ...x, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' } : x)), /manifests\[0\] \(registry\.example\/team\/app:1\) has media type "application\/vnd\.docker\.distribution\.manifest\.v2\+json", the manifest pins application\/vnd\.oci\.image\.manifest\.v1\+json/],
    ['the app\'s descriptor naming the decoy\'s digest', (d) => d.map((x, i) => (i === 0 ? { ...x, digest: d[1]!.digest, size: d[1]!.size } : x)), /manifests\[0\] \(registry\.example\/team\/app:1\) names "sha256:[0-9a-f]{64}", the manifest pins sha256:/],
  ])('%s: refused (68), one line, nothing imported', async (_what, edit, message) => {
    const r = await importWith(edit);
    expect(r.code, r.stderr).toBe(68);
    const lines = r.stderr.trim().split('\n').filter((l) => !/signature good/.test(l));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ferry: .*oci\/index\.json: /);
    expect(lines[0]).toMatch(message);
    expect(r.releases).toEqual([]);
  });
});
