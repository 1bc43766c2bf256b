import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { OCI_MANIFEST, desc, json, sha } from './fakeRegistry.js';

/**
 * A registry may announce a manifest's Docker-Content-Digest by another algorithm than sha256 (the
 * distribution spec allows sha512). ferry compared it with the bytes' sha256 and refused every such answer
 * as an integrity failure (exit 67). The announced digest is checked by its own algorithm; ferry pins the
 * sha256 of the bytes as everywhere; a sha512 that is not the bytes' is still refused.
 */
describe('a Docker-Content-Digest announced as sha512', () => {
  let dir: string;
  let server: Server;
  let url: string;
  const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const layer = Buffer.from('sha512 layer');
  const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [desc('application/vnd.oci.image.layer.v1.tar', layer)] });
  const blobs = new Map([config, layer, manifest].map((b) => [`sha256:${sha(b)}`, b]));
  const sha512 = (b: Buffer) => `sha512:${createHash('sha512').update(b).digest('hex')}`;
  /** tag -> the Docker-Content-Digest the registry announces for it */
  const announce: Record<string, string> = { good: sha512(manifest), bad: sha512(Buffer.from('other bytes')) };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-announced-digest-'));
    server = createServer((req, res) => {
      const m = /^\/v2\/team\/app\/(manifests|blobs)\/(.+)$/.exec(req.url ?? '');
      if (!m) return res.writeHead(req.url === '/v2/' ? 200 : 404).end('{}');
      const body = m[1] === 'manifests' && announce[m[2]!] ? manifest : blobs.get(m[2]!);
      if (!body) return res.writeHead(404).end();
      const headers = m[1] === 'manifests' ? { 'content-type': OCI_MANIFEST, 'docker-content-digest': announce[m[2]!] ?? sha512(body) } : { 'content-type': 'application/octet-stream' };
      res.writeHead(200, { ...headers, 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const lock = async (tag: string) => {
    await mkdir(join(dir, tag), { recursive: true });
    const spec = join(dir, tag, 'spec.yaml');
    await writeFile(
      spec,
      `name: img\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nupstreams:\n  images:\n    registries:\n      registry.example: { url: "${url}" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      images: [{ ref: "registry.example/team/app:${tag}", platforms: [linux/amd64] }]\n`,
    );
    return { spec, r: await ferry(['lock', spec, '--cache', join(dir, 'cache')]) };
  };

  it('is checked by sha512 and the sha256 of the bytes pinned', async () => {
    const { spec, r } = await lock('good');
    expect(r.code, r.stderr).toBe(0);
    const locked = JSON.parse(await readFile(spec.replace(/\.yaml$/, '.lock.json'), 'utf8')) as { kinds: { image: { images: Array<{ digest: string }> } } };
    expect(locked.kinds.image.images[0]!.digest).toBe(`sha256:${sha(manifest)}`);
  });

  it('is refused when it is not the bytes\' sha512 (exit 67, one line, no lock)', async () => {
    const { r } = await lock('bad');
    expect(r.code, r.stderr).toBe(67);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toContain(announce.bad);
    expect(await readdir(join(dir, 'bad'))).toEqual(['spec.yaml']);
  });
});
