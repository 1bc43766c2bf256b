import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/**
 * A registry whose index names one platform manifest thousands of times: ferry lock fetched it once per
 * entry and listed its layers once per entry before it dropped the repeats, so an index of 40,000 entries
 * and a manifest of a thousand layers (a few MiB the registry stores) was forty million descriptors in the
 * heap. Each manifest is fetched, and its blobs taken, once; the lock still lists the index's entries as
 * they are, and the build fetches and carries it.
 */
describe('an image index that names one manifest many times', () => {
  let dir: string;
  let registry: Server;
  const ENTRIES = 2000;
  const requests = new Map<string, number>();
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layers = Array.from({ length: 50 }, (_, i) => Buffer.from(`layer ${i}`));
  const desc = (mediaType: string, b: Buffer) => ({ mediaType, digest: `sha256:${sha(b)}`, size: b.length });
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: layers.map((l) => desc('application/vnd.oci.image.layer.v1.tar', l)) }));
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: Array.from({ length: ENTRIES }, () => ({ ...desc(OCI_MANIFEST, manifest), platform: { os: 'linux', architecture: 'amd64' } })) }));
  const blobs = new Map([manifest, index, config, ...layers].map((b) => [`sha256:${sha(b)}`, b]));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-repeated-entries-'));
    registry = createServer((req, res) => {
      const path = req.url ?? '';
      requests.set(path, (requests.get(path) ?? 0) + 1);
      if (path === '/v2/') return res.writeHead(200).end('{}');
      const m = /^\/v2\/team\/app\/(manifests|blobs)\/(.+)$/.exec(path);
      const body = m && (m[2] === '1' ? index : blobs.get(m[2]!));
      if (!body) return res.writeHead(404).end();
      const type = body === index ? OCI_INDEX : body === manifest ? OCI_MANIFEST : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(registry.address() as { port: number }).port}`;
    await writeFile(
      join(dir, 'spec.yaml'),
      `name: img\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nupstreams:\n  images:\n    registries:\n      registry.example: { url: "${url}" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      images: [{ ref: "registry.example/team/app:1", platforms: [linux/amd64] }]\n`,
    );
  });
  afterAll(async () => {
    await new Promise((r) => registry?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('is locked with the manifest fetched once and each blob listed once, and builds', async () => {
    const l = await ferry(['lock', join(dir, 'spec.yaml'), '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    expect(requests.get(`/v2/team/app/manifests/sha256:${sha(manifest)}`)).toBe(1);
    const lock = JSON.parse(await readFile(join(dir, 'spec.lock.json'), 'utf8')) as { kinds: { image: { images: Array<{ manifests: unknown[]; blobs: Array<{ digest: string }> }> } } };
    const [image] = lock.kinds.image.images;
    expect(image!.manifests).toHaveLength(ENTRIES);
    expect(image!.blobs.map((b) => b.digest)).toEqual([config, ...layers].map((b) => `sha256:${sha(b)}`));
    const key = await writeKey(dir, 'team');
    const b = await ferry(['build', join(dir, 'spec.yaml'), '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache')]);
    expect(b.code, b.stderr).toBe(0);
    expect(await readdir(join(dir, 'out'))).toEqual(['img-1.0.0.ferry']);
  });
});
