import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { writeImageBundle } from '../helpers/ociImages.js';
import { serveOneImageRelease, type ServedImageRelease } from '../helpers/oneImageRelease.js';

const haveTools = (await run('sh', ['-c', 'command -v skopeo && command -v umoci'])).code === 0;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** An OCI layout whose one image manifest names a layer whose "digest" is an array nested `depth` deep. */
async function nestedDigestLayout(dir: string, depth: number): Promise<string> {
  const layout = join(dir, 'layout');
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const manifest = Buffer.from(
    `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:${sha256(config)}","size":${config.length}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1,"digest":${'['.repeat(depth)}${']'.repeat(depth)}}]}`,
  );
  for (const blob of [config, manifest]) await writeFile(join(layout, 'blobs', 'sha256', sha256(blob)), blob);
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha256(manifest)}`, size: manifest.length }] }));
  return layout;
}

/**
 * An image manifest that names a layer by a "digest" that is no string is not served (a warning says what it
 * names). Saying so stringified that value whole: one nested 100,000 arrays deep (a 200 KB manifest, under the
 * 4 MiB bound, which ferry import does not parse deeper) overflowed the stack, and the error failed the
 * catalog of every release, so a release of ANY name, signed by a key trusted for that name only, made every
 * /v2/ request 500 for every repository. That image is now left out with its warning, the others served.
 */
describe.skipIf(!haveTools)('an image whose layer digest is a deeply nested array, in a release of another name', () => {
  let t: ServedImageRelease;
  beforeAll(async () => {
    t = await serveOneImageRelease('ferry-nested-digest', { name: 'app', version: '1.0.0', ref: 'registry.example/team/app:1', files: { 'etc/app.conf': 'app\n' } }, async (store) => {
      const dir = join(dirname(store), 'intruder');
      await mkdir(dir);
      const intruder = await writeKey(dir, 'intruder');
      const key = await openpgp.readPrivateKey({ armoredKey: intruder.secretArmored });
      const bundle = join(dir, 'intruder.ferry');
      await writeImageBundle(bundle, key, [{ ref: 'registry.example/intruder/tool:1', services: ['web'], layout: await nestedDigestLayout(dir, 100_000) }], { name: 'intruder', version: '1.0.0', epoch: '2026-11-26T00:00:00.000Z' });
      const imported = await ferry(['import', bundle, '--keyring', intruder.public, '--store', store]);
      expect(imported.code, imported.stderr).toBe(0);
    });
  });
  afterAll(() => t?.stop());

  it('serves the other releases images, and warns about that image', async () => {
    const catalog = await fetch(`${t.serve.url}/v2/_catalog`);
    expect(catalog.status).toBe(200);
    expect(await catalog.json()).toEqual({ repositories: ['team/app'] });
    const host = t.serve.url.replace(/^http:\/\//, '');
    const inspected = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/team/app:1`]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(sha256(inspected.stdout)).toBe(t.image.digest.slice('sha256:'.length));
    const tool = await fetch(`${t.serve.url}/v2/intruder/tool/manifests/1`);
    expect(tool.status).toBe(404);
    expect(await tool.json()).toEqual({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] });
    expect(t.serve.stderr()).toMatch(/warning: release intruder 1\.0\.0: image registry\.example\/intruder\/tool:1 is not served: manifest [0-9a-f]{64} names a config or layer without a sha256 digest ferry carries \(a JSON array\)/);
  });
});
