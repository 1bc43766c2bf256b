import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { OCI_MANIFEST, desc, json, sha } from './fakeRegistry.js';

/**
 * Which login goes with which pull. ferry took any key of the auth file whose host was the registry's
 * (`a.example/team-a`, a login podman keeps for that namespace only, answered for `a.example/team-b` too),
 * and kept one registry client per URL, made with the first registry name's login: a second name the spec
 * points at the same URL pulled with the first name's login. Each repository now gets the most specific key
 * of its own (containers-auth.json(5)), and each registry name its own login.
 */
describe('registry logins per namespace and per registry name', () => {
  let dir: string;
  let server: Server;
  let url: string;
  /** `REPOSITORY USER` of each authorized manifest or blob request */
  const seen = new Set<string>();
  const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const layer = Buffer.from('login layer');
  const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [desc('application/vnd.oci.image.layer.v1.tar', layer)] });
  const blobs = new Map([config, layer, manifest].map((b) => [`sha256:${sha(b)}`, b]));
  const login = (user: string) => ({ auth: Buffer.from(`${user}:${user}-password`).toString('base64') });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-registry-logins-'));
    // every repository serves the one image, to any Basic login; which login came is what the test looks at
    server = createServer((req, res) => {
      const auth = req.headers.authorization;
      if (!auth?.startsWith('Basic ')) return res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
      const user = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0];
      const m = /^\/v2\/(.+)\/(manifests|blobs)\/(.+)$/.exec(req.url ?? '');
      if (!m) return res.writeHead(200).end('{}');
      seen.add(`${m[1]} ${user}`);
      const body = m[2] === 'manifests' && m[3] === '1' ? manifest : blobs.get(m[3]!);
      if (!body) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': m[2] === 'manifests' ? OCI_MANIFEST : 'application/octet-stream', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('sends each namespace its own login, and each registry name its own, never another\'s', async () => {
    const spec = join(dir, 'spec.yaml');
    await writeFile(
      spec,
      `name: logins\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nupstreams:\n  images:\n    registries:\n      a.example: { url: "${url}" }\n      b.example: { url: "${url}" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      images:\n        - { ref: "a.example/team-a/app:1", platforms: [linux/amd64] }\n        - { ref: "a.example/team-b/app:1", platforms: [linux/amd64] }\n        - { ref: "a.example/team-c/app:1", platforms: [linux/amd64] }\n        - { ref: "b.example/team-d/app:1", platforms: [linux/amd64] }\n`,
    );
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { 'a.example/team-a': login('user-a'), 'a.example/team-b/app': login('user-b'), 'https://a.example/v1/': login('user-host'), 'b.example': login('user-d') } }));
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env: { REGISTRY_AUTH_FILE: authFile } });
    expect(r.code, r.stderr).toBe(0);
    expect([...seen].sort()).toEqual(['team-a/app user-a', 'team-b/app user-b', 'team-c/app user-host', 'team-d/app user-d']);
  });
});
