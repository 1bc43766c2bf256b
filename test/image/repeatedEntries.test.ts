import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { OCI_INDEX, OCI_MANIFEST, desc, fakeRegistry, json, sha, writeRegistrySpec } from './fakeRegistry.js';

/**
 * A registry whose index names one platform manifest thousands of times: ferry lock fetched it once per
 * entry and listed its layers once per entry before it dropped the repeats, so an index of 40,000 entries
 * and a manifest of a thousand layers (a few MiB the registry stores) was forty million descriptors in the
 * heap. Each manifest is fetched, and its blobs taken, once; the lock still lists the index's entries as
 * they are, and the build fetches and carries it.
 */
describe('an image index that names one manifest many times', () => {
  let dir: string;
  let registry: Awaited<ReturnType<typeof fakeRegistry>>;
  const ENTRIES = 2000;
  const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const layers = Array.from({ length: 50 }, (_, i) => Buffer.from(`layer ${i}`));
  const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: layers.map((l) => desc('application/vnd.oci.image.layer.v1.tar', l)) });
  const index = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: Array.from({ length: ENTRIES }, () => ({ ...desc(OCI_MANIFEST, manifest), platform: { os: 'linux', architecture: 'amd64' } })) });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-repeated-entries-'));
    registry = await fakeRegistry({ '1': index }, [manifest, index, config, ...layers]);
  });
  afterAll(async () => {
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is locked with the manifest fetched once and each blob listed once, and builds', async () => {
    const spec = await writeRegistrySpec(dir, registry.url);
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    expect(registry.requests.get(`/v2/team/app/manifests/sha256:${sha(manifest)}`)).toBe(1);
    const lock = JSON.parse(await readFile(spec.replace(/\.yaml$/, '.lock.json'), 'utf8')) as { kinds: { image: { images: Array<{ manifests: unknown[]; blobs: Array<{ digest: string }> }> } } };
    const [image] = lock.kinds.image.images;
    expect(image!.manifests).toHaveLength(ENTRIES);
    expect(image!.blobs.map((b) => b.digest)).toEqual([config, ...layers].map((b) => `sha256:${sha(b)}`));
    const key = await writeKey(dir, 'team');
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache')]);
    expect(b.code, b.stderr).toBe(0);
    expect(await readdir(join(dir, 'out'))).toEqual(['img-1.0.0.ferry']);
  });
});
