import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { OCI_INDEX, OCI_MANIFEST, desc, fakeRegistry, json, writeRegistrySpec } from './fakeRegistry.js';

/**
 * The platform words of an index entry or an image config, a foreign layer's URL and a document's media
 * type are the registry's: one of 200,000 characters went whole into ferry lock's refusal (a line of 200 KB
 * on the terminal and in CI logs). Refusals show them cut short, as they show the platforms an index offers.
 */
describe('an image registry whose words are huge', () => {
  let dir: string;
  let registry: Awaited<ReturnType<typeof fakeRegistry>>;
  const long = 'v'.repeat(200_000);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-platform-words-'));
    const layer = Buffer.from('layer');
    const config = json({ architecture: `amd64${long}`, os: 'linux' });
    const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [desc('application/vnd.oci.image.layer.v1.tar', layer)] });
    const entry = { ...desc(OCI_MANIFEST, manifest), platform: { os: 'linux', architecture: 'amd64', variant: long } };
    registry = await fakeRegistry(
      {
        config: manifest,
        nested: json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...entry, mediaType: OCI_INDEX }] }),
        size: json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...entry, size: entry.size + 1 }] }),
        urls: json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [{ ...desc('application/vnd.oci.image.layer.v1.tar', layer), urls: [`https://elsewhere.example/${long}`] }] }),
        type: json({ schemaVersion: 2, mediaType: `application/${long}`, manifests: [] }),
      },
      [manifest, config, layer],
    );
  });
  afterAll(async () => {
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['config', /the image is for linux\/amd64v+…, not linux\/amd64/],
    ['nested', /the index entry for linux\/amd64\/v+… \(sha256:[0-9a-f]{64}\) is itself an index/],
    ['size', /linux\/amd64\/v+… \(sha256:[0-9a-f]{64}\): the manifest has \d+ bytes, the index says \d+/],
    ['urls', /layer sha256:[0-9a-f]{64} lives outside the registry \("https:\/\/elsewhere\.example\/v+…"\)/],
    ['type', /media type "application\/v+…" is not an OCI or Docker v2 image manifest or index/],
  ])('refuses the image tagged %s in one short line', async (tag, message) => {
    const r = await ferry(['lock', await writeRegistrySpec(dir, registry.url, tag), '--cache', join(dir, 'cache')]);
    expect(r.code).toBe(70);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length, lines[0]!.slice(0, 300)).toBeLessThan(1000);
    expect(lines[0]).toMatch(message);
  });
});
