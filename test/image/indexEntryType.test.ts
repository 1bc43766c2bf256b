import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { umociImage, writeImageBundle } from '../helpers/ociImages.js';
import { startServer, type TestServer } from '../serve/startServer.js';
import { OCI_INDEX, OCI_MANIFEST, desc, fakeRegistry, json, sha, writeRegistrySpec } from './fakeRegistry.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const haveTools = (await run('sh', ['-c', 'command -v skopeo && command -v umoci'])).code === 0;

/**
 * ferry serve answers a platform manifest with the media type its index entry gives (the bundle's word), and
 * skopeo, podman and containerd read the manifest as that type. An upstream index whose entry calls an OCI
 * manifest a Docker one, or calls a manifest text/html, made a bundle whose image no host could pull: ferry
 * lock took the manifest's own word and signed it. ferry lock refuses such an index (exit 70, one line, no lock).
 */
describe('an upstream index entry whose media type is not its manifest\'s', () => {
  let dir: string;
  let registry: Awaited<ReturnType<typeof fakeRegistry>>;
  const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const layer = Buffer.from('layer '.repeat(50));
  const body = { schemaVersion: 2, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [desc('application/vnd.oci.image.layer.v1.tar', layer)] };
  const oci = json({ ...body, mediaType: OCI_MANIFEST });
  const bare = json(body); // OCI allows a manifest without a mediaType field
  const amd64 = { os: 'linux', architecture: 'amd64' };
  const index = (entry: object) => json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...entry, platform: amd64 }, { ...desc(OCI_MANIFEST, oci), platform: { os: 'linux', architecture: 'arm64' } }] });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-index-entry-type-'));
    const tags = {
      docker: index(desc(DOCKER_MANIFEST, oci)),
      html: index(desc('text/html', bare)),
      config: index(desc('application/vnd.oci.image.config.v1+json', bare)),
      good: index(desc(OCI_MANIFEST, oci)),
      'good-bare': index(desc(OCI_MANIFEST, bare)),
    };
    // the indexes by digest too (a locked build asks for them so)
    registry = await fakeRegistry(tags, [...Object.values(tags), oci, bare, config, layer]);
  });
  afterAll(async () => {
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['docker', /the index calls the manifest "application\/vnd\.docker\.distribution\.manifest\.v2\+json", the manifest is application\/vnd\.oci\.image\.manifest\.v1\+json/],
    ['html', /the index calls the manifest "text\/html", the manifest is application\/vnd\.oci\.image\.manifest\.v1\+json/],
    ['config', /the index calls the manifest "application\/vnd\.oci\.image\.config\.v1\+json"/],
  ])('ferry lock refuses an index whose linux/amd64 entry is typed %s: one line, exit 70, no lock', async (tag, message) => {
    const spec = await writeRegistrySpec(dir, registry.url, tag);
    const r = await ferry(['lock', spec, '--cache', join(dir, `cache-${tag}`)]);
    expect(r.code, r.stderr).toBe(70);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(existsSync(spec.replace(/\.yaml$/, '.lock.json'))).toBe(false);
  });

  it.each(['good', 'good-bare'])('the control: an index whose entry names its manifest\'s type (%s) is locked', async (tag) => {
    const spec = await writeRegistrySpec(dir, registry.url, tag);
    const r = await ferry(['lock', spec, '--cache', join(dir, `cache-${tag}`)]);
    expect(r.code, r.stderr).toBe(0);
    const lock = JSON.parse(await readFile(spec.replace(/\.yaml$/, '.lock.json'), 'utf8'));
    expect(lock.kinds.image.images[0].manifests).toEqual([{ digest: `sha256:${sha(tag === 'good' ? oci : bare)}`, size: (tag === 'good' ? oci : bare).length, mediaType: OCI_MANIFEST, platform: 'linux/amd64' }]);
  });

  it('ferry build --locked refuses a lock (an older ferry\'s) that pins such an index: one line, exit 67, no bundle', async () => {
    const key = await writeKey(dir, 'builder');
    // what an older ferry lock wrote for the "docker" tag: the entry's manifest recorded by its own type
    const good = await writeRegistrySpec(dir, registry.url, 'good');
    expect((await ferry(['lock', good, '--cache', join(dir, 'cache-old')])).code).toBe(0);
    const lock = JSON.parse(await readFile(good.replace(/\.yaml$/, '.lock.json'), 'utf8'));
    const upstream = index(desc(DOCKER_MANIFEST, oci));
    const reduced = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...desc(DOCKER_MANIFEST, oci), platform: amd64 }] });
    const image = lock.kinds.image.images[0];
    Object.assign(image, { ref: 'registry.example/team/app:docker', digest: `sha256:${sha(reduced)}`, size: reduced.length, upstream: { ...image.upstream, digest: `sha256:${sha(upstream)}`, size: upstream.length } });
    expect(image.manifests[0].mediaType).toBe(OCI_MANIFEST);
    const spec = await writeRegistrySpec(dir, registry.url, 'docker');
    await writeFile(spec.replace(/\.yaml$/, '.lock.json'), JSON.stringify(lock));
    const out = join(dir, 'out-docker');
    const r = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache-old')]);
    expect(r.code, r.stderr).toBe(67);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/the media type application\/vnd\.oci\.image\.manifest\.v1\+json, its index calls it "application\/vnd\.docker\.distribution\.manifest\.v2\+json"/);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  // what such a bundle was: ferry serve answers the entry by its index's word, and the real skopeo cannot read it
  describe.skipIf(!haveTools)('why: the real skopeo pulling such an image from ferry serve', () => {
    let server: TestServer;
    beforeAll(async () => {
      const team = await writeKey(dir, 'team');
      const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
      const image = await umociImage(join(dir, 'app'), 'amd64', { 'etc/app.conf': 'app\n' });
      const layouts: Record<string, string> = {};
      for (const [name, type] of [['docker', DOCKER_MANIFEST], ['oci', OCI_MANIFEST]] as const) {
        const layout = join(dir, `layout-${name}`);
        await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
        await run('cp', ['-r', join(image.layout, 'blobs'), layout]);
        await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
        const idx = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: type, digest: image.digest, size: image.size, platform: amd64 }] });
        await writeFile(join(layout, 'blobs', 'sha256', sha(idx)), idx);
        await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...desc(OCI_INDEX, idx), annotations: { 'org.opencontainers.image.ref.name': 'upstream' } }] }));
        layouts[name] = layout;
      }
      const bundle = join(dir, 'typed.ferry');
      await writeImageBundle(bundle, key, [
        { ref: 'registry.example/team/docker:1', services: ['web'], layout: layouts.docker! },
        { ref: 'registry.example/team/oci:1', services: ['web'], layout: layouts.oci! },
      ], { name: 'typed', version: '1.0.0' });
      const store = join(dir, 'store');
      const imported = await ferry(['import', bundle, '--keyring', team.public, '--store', store]);
      expect(imported.code, imported.stderr).toBe(0);
      server = await startServer(store);
    });
    afterAll(async () => {
      await server?.close(0);
    });

    it('copies the image whose entry names its manifest\'s type, and fails on the one whose entry calls it a Docker manifest', async () => {
      const host = server.url.replace(/^http:\/\//, '');
      const copy = (name: string) => run('skopeo', ['copy', '--override-arch', 'amd64', '--src-tls-verify=false', `docker://${host}/team/${name}:1`, `oci:${join(dir, `got-${name}`)}:x`]);
      const good = await copy('oci');
      expect(good.code, good.stderr).toBe(0);
      const bad = await copy('docker');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/unsupported docker v2s2 media type/);
    });
  });
});
