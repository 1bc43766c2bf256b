import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { OCI_INDEX, OCI_MANIFEST, desc, fakeRegistry, json } from './fakeRegistry.js';
import { MAX_IMAGE_NAMED_PER_RELEASE } from '../../src/util/imageNames.js';

/**
 * ferry serve serves no more of a release than 250,000 manifests, configs and layers named by its images
 * (each image's counted on its own). Tags of one hostile index of 16,000 entries name 16,053 each: sixteen
 * of them name more, and ferry lock signed them into a lock (and ferry build into a bundle) the secure side
 * could not serve. ferry lock refuses them (exit 70, one line, no lock written); ferry build --locked refuses a
 * lock from before that (exit 67, one line, no bundle written).
 */
describe('images naming more manifests, configs and layers than ferry serve serves', () => {
  let dir: string;
  let registry: Awaited<ReturnType<typeof fakeRegistry>>;
  const ENTRIES = 16_000;
  const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const layers = Array.from({ length: 50 }, (_, i) => Buffer.from(`bound layer ${i}`));
  const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: layers.map((l) => desc('application/vnd.oci.image.layer.v1.tar', l)) });
  const index = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: Array.from({ length: ENTRIES }, () => ({ ...desc(OCI_MANIFEST, manifest), platform: { os: 'linux', architecture: 'amd64' } })) });
  /** what one tag names, as ferry serve counts it: the index, its entries, the manifest, its config and layers */
  const perImage = 1 + ENTRIES + 1 + 1 + layers.length;
  /** the error lines (info lines say what was done before) */
  const errors = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('ferry:'));
  const tags = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));

  const writeSpec = async (name: string, n: number, url = registry.url) => {
    const file = join(dir, name, 'spec.yaml');
    await rm(join(dir, name), { recursive: true, force: true });
    await mkdir(join(dir, name), { recursive: true });
    const images = tags(n).map((t) => `{ ref: "registry.example/team/app:${t}", platforms: [linux/amd64] }`).join(', ');
    await writeFile(
      file,
      `name: img\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nupstreams:\n  images:\n    registries:\n      registry.example: { url: "${url}" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      images: [${images}]\n`,
    );
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-named-bound-'));
    registry = await fakeRegistry(Object.fromEntries(tags(16).map((t) => [t, index])), [manifest, index, config, ...layers]);
  });
  afterAll(async () => {
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is refused by ferry lock in one line (exit 70), no lock written', async () => {
    expect(index.length).toBeLessThan(4 << 20);
    expect(15 * perImage).toBeLessThanOrEqual(MAX_IMAGE_NAMED_PER_RELEASE);
    expect(16 * perImage).toBeGreaterThan(MAX_IMAGE_NAMED_PER_RELEASE);
    const spec = await writeSpec('lock16', 16);
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(70);
    const lines = errors(l.stderr);
    expect(lines, l.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/more than 250000 manifests, configs and layers in all/);
    expect(await readdir(join(dir, 'lock16'))).toEqual(['spec.yaml']);
  });

  it('is refused by ferry build --locked of a lock from before (exit 67), no bundle written', async () => {
    // fifteen tags lock; a sixteenth is added to the lock as an older ferry lock wrote it
    const spec15 = await writeSpec('build15', 15);
    const l = await ferry(['lock', spec15, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    const lock = JSON.parse(await readFile(join(dir, 'build15', 'spec.lock.json'), 'utf8')) as { kinds: { image: { images: Array<{ ref: string }> } } };
    const images = lock.kinds.image.images;
    expect(images).toHaveLength(15);
    images.push({ ...images.find((i) => i.ref.endsWith(':1'))!, ref: 'registry.example/team/app:16' });
    images.sort((a, b) => (a.ref < b.ref ? -1 : 1));
    const spec16 = await writeSpec('build16', 16);
    await writeFile(join(dir, 'build16', 'spec.lock.json'), JSON.stringify(lock));
    const key = await writeKey(dir, 'team');
    const out = join(dir, 'out');
    const b = await ferry(['build', spec16, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
    expect(b.code, b.stderr).toBe(67);
    const lines = errors(b.stderr);
    expect(lines, b.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/more than 250000 manifests, configs and layers in all/);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('counts a layer a manifest repeats as often as it lists it, as ferry serve does (lock: 70, build of an older lock: 67)', async () => {
    // one manifest listing one layer 27,000 times: the lock lists two blobs for it, ferry serve counts 27,002
    const LAYERS = 27_000;
    const layer = Buffer.from('one repeated layer');
    const repeated = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: Array.from({ length: LAYERS }, () => desc('application/vnd.oci.image.layer.v1.tar', layer)) });
    expect(repeated.length).toBeLessThan(4 << 20);
    expect(10 * (2 + LAYERS)).toBeGreaterThan(MAX_IMAGE_NAMED_PER_RELEASE);
    expect(9 * (2 + LAYERS)).toBeLessThanOrEqual(MAX_IMAGE_NAMED_PER_RELEASE);
    const own = await fakeRegistry(Object.fromEntries(tags(10).map((t) => [t, repeated])), [repeated, config, layer]);
    try {
      const spec10 = await writeSpec('repeat10', 10, own.url);
      const spec9 = await writeSpec('repeat9', 9, own.url);
      const l10 = await ferry(['lock', spec10, '--cache', join(dir, 'cache')]);
      expect(l10.code, l10.stderr).toBe(70);
      expect(errors(l10.stderr), l10.stderr).toHaveLength(1);
      expect(errors(l10.stderr)[0]).toMatch(/more than 250000 manifests, configs and layers in all/);
      expect(await readdir(join(dir, 'repeat10'))).toEqual(['spec.yaml']);
      // nine lock; a tenth is added as an older ferry lock wrote it
      const l9 = await ferry(['lock', spec9, '--cache', join(dir, 'cache')]);
      expect(l9.code, l9.stderr).toBe(0);
      const lock = JSON.parse(await readFile(join(dir, 'repeat9', 'spec.lock.json'), 'utf8')) as { kinds: { image: { images: Array<{ ref: string }> } } };
      const images = lock.kinds.image.images;
      images.push({ ...images[0]!, ref: 'registry.example/team/app:10' });
      images.sort((a, b) => (a.ref < b.ref ? -1 : 1));
      await writeFile(join(dir, 'repeat10', 'spec.lock.json'), JSON.stringify(lock));
      const key = await writeKey(dir, 'repeat');
      const out = join(dir, 'out-repeat');
      const b = await ferry(['build', spec10, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
      expect(b.code, b.stderr).toBe(67);
      expect(errors(b.stderr), b.stderr).toHaveLength(1);
      expect(errors(b.stderr)[0]).toMatch(/more than 250000 manifests, configs and layers in all/);
      expect(await readdir(out).catch(() => [])).toEqual([]);
    } finally {
      await own.close();
    }
  });
});
