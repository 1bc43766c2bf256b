import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
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
      'docker-bare': index(desc(DOCKER_MANIFEST, bare)),
      html: index(desc('text/html', bare)),
      config: index(desc('application/vnd.oci.image.config.v1+json', bare)),
      good: index(desc(OCI_MANIFEST, oci)),
      'good-bare': index(desc(OCI_MANIFEST, bare)),
    };
    // the indexes by digest too (a locked build asks for them so); a single manifest without its mediaType
    // field, once as OCI, once with a Docker Content-Type
    registry = await fakeRegistry({ ...tags, single: bare, 'single-docker': bare }, [...Object.values(tags), oci, bare, config, layer], { 'single-docker': DOCKER_MANIFEST });
  });
  afterAll(async () => {
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['docker', /the index calls the manifest "application\/vnd\.docker\.distribution\.manifest\.v2\+json", the manifest is "application\/vnd\.oci\.image\.manifest\.v1\+json"/],
    // a Docker image manifest must say its type (skopeo: unsupported docker v2s2 media type: "")
    ['docker-bare', /the index calls the manifest "application\/vnd\.docker\.distribution\.manifest\.v2\+json", the manifest has no mediaType field/],
    ['html', /the index calls the manifest "text\/html", the manifest has no mediaType field/],
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

  it('ferry lock refuses a single manifest without its mediaType field that the registry calls a Docker one (skopeo refuses it too): one line, exit 70', async () => {
    const spec = await writeRegistrySpec(dir, registry.url, 'single-docker');
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache-single-docker')]);
    expect(r.code, r.stderr).toBe(70);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/the registry calls it application\/vnd\.docker\.distribution\.manifest\.v2\+json, the manifest has no mediaType field/);
    expect(existsSync(spec.replace(/\.yaml$/, '.lock.json'))).toBe(false);
    if (!haveTools) return;
    const skopeo = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.url.replace(/^http:\/\//, '')}/team/app:single-docker`]);
    expect(skopeo.code).not.toBe(0);
    expect(skopeo.stderr).toContain('unsupported docker v2s2 media type: \\"\\"');
  });

  it('ferry build --locked refuses a lock (an older ferry\'s) that pins such a single manifest as a Docker one: one line, exit 67, no bundle', async () => {
    const key = await writeKey(dir, 'builder-single');
    const okSpec = await writeRegistrySpec(dir, registry.url, 'single');
    expect((await ferry(['lock', okSpec, '--cache', join(dir, 'cache-single')])).code).toBe(0);
    const lock = JSON.parse(await readFile(okSpec.replace(/\.yaml$/, '.lock.json'), 'utf8'));
    const image = lock.kinds.image.images[0];
    expect(image.mediaType).toBe(OCI_MANIFEST);
    Object.assign(image, { ref: 'registry.example/team/app:single-docker', mediaType: DOCKER_MANIFEST });
    const spec = await writeRegistrySpec(dir, registry.url, 'single-docker');
    await writeFile(spec.replace(/\.yaml$/, '.lock.json'), JSON.stringify(lock));
    const out = join(dir, 'out-single-docker');
    const r = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache-single')]);
    expect(r.code, r.stderr).toBe(67);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/names sha256:[0-9a-f]{64} as application\/vnd\.docker\.distribution\.manifest\.v2\+json, the manifest has no mediaType field/);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it.each(['good', 'good-bare'])('the control: an index whose entry names its manifest\'s type (%s) is locked', async (tag) => {
    const spec = await writeRegistrySpec(dir, registry.url, tag);
    const r = await ferry(['lock', spec, '--cache', join(dir, `cache-${tag}`)]);
    expect(r.code, r.stderr).toBe(0);
    const lock = JSON.parse(await readFile(spec.replace(/\.yaml$/, '.lock.json'), 'utf8'));
    expect(lock.kinds.image.images[0].manifests).toEqual([{ digest: `sha256:${sha(tag === 'good' ? oci : bare)}`, size: (tag === 'good' ? oci : bare).length, mediaType: OCI_MANIFEST, platform: 'linux/amd64' }]);
  });

  it.each([
    // the old ferry lock recorded the manifest's own type (OCI), the entry says Docker
    ['docker', oci, OCI_MANIFEST, /the media type application\/vnd\.oci\.image\.manifest\.v1\+json, its index calls it "application\/vnd\.docker\.distribution\.manifest\.v2\+json"/],
    // the manifest has no field: the old ferry lock recorded the entry's type, which the manifest does not carry
    ['docker-bare', bare, DOCKER_MANIFEST, /its index calls sha256:[0-9a-f]{64} "application\/vnd\.docker\.distribution\.manifest\.v2\+json", the manifest has no mediaType field/],
  ] as const)('ferry build --locked refuses a lock (an older ferry\'s) that pins such an index (%s): one line, exit 67, no bundle', async (tag, manifest, recorded, message) => {
    const key = await writeKey(dir, `builder-${tag}`);
    // what an older ferry lock wrote for the tag, made from a consistent index's lock
    const goodTag = manifest === oci ? 'good' : 'good-bare';
    const good = await writeRegistrySpec(dir, registry.url, goodTag);
    expect((await ferry(['lock', good, '--cache', join(dir, `cache-old-${tag}`)])).code).toBe(0);
    const lock = JSON.parse(await readFile(good.replace(/\.yaml$/, '.lock.json'), 'utf8'));
    const upstream = index(desc(DOCKER_MANIFEST, manifest));
    const reduced = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...desc(DOCKER_MANIFEST, manifest), platform: amd64 }] });
    const image = lock.kinds.image.images[0];
    Object.assign(image, { ref: `registry.example/team/app:${tag}`, digest: `sha256:${sha(reduced)}`, size: reduced.length, upstream: { ...image.upstream, digest: `sha256:${sha(upstream)}`, size: upstream.length } });
    image.manifests[0].mediaType = recorded;
    const spec = await writeRegistrySpec(dir, registry.url, tag);
    await writeFile(spec.replace(/\.yaml$/, '.lock.json'), JSON.stringify(lock));
    const out = join(dir, `out-${tag}`);
    const r = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, `cache-old-${tag}`)]);
    expect(r.code, r.stderr).toBe(67);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  // a bundle signed before ferry lock refused such an index: ferry serve answered the entry by the index's word
  // (Content-Type: Docker), and the real skopeo failed on it with 'unsupported docker v2s2 media type'. It now
  // leaves that entry (or an image whose own top manifest disagrees with the bundle) unserved, with a warning
  describe.skipIf(!haveTools)('ferry serve with a bundle signed before the lock check, and the real skopeo', () => {
    let server: TestServer;
    let child: string;
    beforeAll(async () => {
      const team = await writeKey(dir, 'team');
      const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
      const image = await umociImage(join(dir, 'app'), 'amd64', { 'etc/app.conf': 'app\n' });
      child = image.digest;
      const layouts: Record<string, string> = {};
      const layoutOf = async (name: string, top: { mediaType: string; data?: Buffer }) => {
        const layout = join(dir, `layout-${name}`);
        await mkdir(layout, { recursive: true });
        await run('cp', ['-r', join(image.layout, 'blobs'), layout]);
        await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
        if (top.data) await writeFile(join(layout, 'blobs', 'sha256', sha(top.data)), top.data);
        const d = top.data ? desc(top.mediaType, top.data) : { mediaType: top.mediaType, digest: image.digest, size: image.size };
        await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...d, annotations: { 'org.opencontainers.image.ref.name': 'upstream' } }] }));
        layouts[name] = layout;
      };
      const indexOf = (type: string) => json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: type, digest: image.digest, size: image.size, platform: amd64 }] });
      await layoutOf('docker', { mediaType: OCI_INDEX, data: indexOf(DOCKER_MANIFEST) });
      await layoutOf('oci', { mediaType: OCI_INDEX, data: indexOf(OCI_MANIFEST) });
      // a single image whose bundle records the Docker type for its OCI manifest
      await layoutOf('single', { mediaType: DOCKER_MANIFEST });
      const bundle = join(dir, 'typed.ferry');
      await writeImageBundle(bundle, key, ['docker', 'oci', 'single'].map((name) => ({ ref: `registry.example/team/${name}:1`, services: ['web'], layout: layouts[name]! })), { name: 'typed', version: '1.0.0' });
      const store = join(dir, 'store');
      const imported = await ferry(['import', bundle, '--keyring', team.public, '--store', store]);
      expect(imported.code, imported.stderr).toBe(0);
      server = await startServer(store);
    });
    afterAll(async () => {
      await server?.close(0);
    });

    it('copies the image whose types agree; answers no manifest by a type its own mediaType contradicts, and warns', async () => {
      const host = server.url.replace(/^http:\/\//, '');
      const copy = (name: string) => run('skopeo', ['copy', '--override-arch', 'amd64', '--src-tls-verify=false', `docker://${host}/team/${name}:1`, `oci:${join(dir, `got-${name}`)}:x`]);
      const good = await copy('oci');
      expect(good.code, good.stderr).toBe(0);
      const entry = await request(`${server.url}/v2/team/docker/manifests/${child}`);
      expect([entry.statusCode, JSON.parse(await entry.body.text()).errors[0].code]).toEqual([404, 'MANIFEST_UNKNOWN']);
      const bad = await copy('docker');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/manifest unknown/);
      const single = await request(`${server.url}/v2/team/single/manifests/1`);
      // its only image is not served: the repository is not there
      expect([single.statusCode, JSON.parse(await single.body.text()).errors[0].code]).toEqual([404, 'NAME_UNKNOWN']);
      const said = server.warnings.join('\n');
      // umoci writes its manifests without a mediaType field: an OCI manifest, never a Docker one
      expect(said).toContain(`image registry.example/team/docker:1: manifest ${child.slice(7)} has no mediaType field (an OCI document may omit it, a Docker image manifest may not), the index entry says ${DOCKER_MANIFEST}`);
      expect(said).toContain(`image registry.example/team/single:1 is not served: manifest ${child.slice(7)} has no mediaType field (an OCI document may omit it, a Docker image manifest may not), the bundle says ${DOCKER_MANIFEST}`);
    });
  });
});
