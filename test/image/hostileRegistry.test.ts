import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { makeCertificate } from '../serve/makeCertificate.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

type Mode = 'ok' | 'redirect-file' | 'redirect-other' | 'longer' | 'endless-manifest' | 'wrong-digest' | 'realm-file' | 'realm-ftp' | 'huge-token' | 'null-token' | 'injected-challenge' | 'long-challenge';

/**
 * A registry that misbehaves on purpose, one way per test: ferry lock and ferry build must refuse each
 * with one line and the documented exit code, cache nothing of what it refused, write no bundle, never
 * read a file of the build machine for the registry, and never send the login anywhere but the registry.
 */
describe('a hostile image registry', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  let registry: Server;
  let other: Server;
  let url = '';
  let otherUrl = '';
  let mode: Mode = 'ok';
  const otherAuth: Array<string | undefined> = [];
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = Buffer.from('layer bytes '.repeat(100));
  let manifest: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-registry-'));
    key = await writeKey(dir, 'team');
    manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${sha(layer)}`, size: layer.length }],
      }),
    );
    other = createServer((req, res) => {
      otherAuth.push(req.headers.authorization);
      res.writeHead(200, { 'content-length': layer.length }).end(layer);
    });
    registry = createServer((req, res) => answer(req, res));
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(registry.address() as { port: number }).port}`;
    otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
    await writeFile(join(dir, 'auth.json'), JSON.stringify({ auths: { 'registry.example': { auth: Buffer.from('user:secret-password').toString('base64') } } }));
    await writeFile(
      join(dir, 'spec.yaml'),
      `name: img\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nupstreams:\n  images:\n    registries:\n      registry.example: { url: "${url}" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      images: [{ ref: "registry.example/team/app:1", platforms: [linux/amd64] }]\n`,
    );
  });
  afterAll(async () => {
    await new Promise((r) => registry?.close(r));
    await new Promise((r) => other?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  function answer(req: IncomingMessage, res: ServerResponse) {
    const path = req.url ?? '';
    const authorized = req.headers.authorization === `Basic ${Buffer.from('user:secret-password').toString('base64')}` || req.headers.authorization === 'Bearer good';
    if (path === '/v2/') {
      if (mode === 'realm-file') return res.writeHead(401, { 'www-authenticate': 'Bearer realm="file:///etc/passwd",service="x"' }).end();
      if (mode === 'realm-ftp') return res.writeHead(401, { 'www-authenticate': 'Bearer realm="ftp://127.0.0.1/token"' }).end();
      if (mode === 'long-challenge') return res.writeHead(401, { 'www-authenticate': `Negotiate ${'x'.repeat(15_000)}` }).end();
      if (mode === 'huge-token' || mode === 'null-token' || mode === 'injected-challenge') {
        const realm = mode !== 'injected-challenge' ? `${url}/token` : `${url}/token?scope=repository:other/secret:push`;
        return res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="registry.example\\",scope=\\"repository:other:push"` }).end();
      }
      return authorized ? res.writeHead(200).end('{}') : res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
    }
    if (path.startsWith('/token')) {
      const scopes = new URL(path, url).searchParams.getAll('scope');
      if (mode === 'huge-token') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'a'.repeat(2 << 20) }));
      if (mode === 'null-token') return res.writeHead(200, { 'content-type': 'application/json' }).end('null');
      // the injected challenge must not widen the scope ferry asks for
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: scopes.length === 1 && scopes[0] === 'repository:team/app:pull' ? 'good' : 'widened' }));
    }
    if (!authorized) return res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
    if (path === '/v2/team/app/manifests/1' || path === `/v2/team/app/manifests/sha256:${sha(manifest)}`) {
      if (mode === 'endless-manifest') {
        res.writeHead(200, { 'content-type': OCI_MANIFEST });
        const chunk = Buffer.alloc(64 << 10, 0x20);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', () => res.removeAllListeners('drain'));
        return pump();
      }
      const digest = mode === 'wrong-digest' ? `sha256:${'0'.repeat(64)}` : `sha256:${sha(manifest)}`;
      return res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': digest, 'content-length': manifest.length }).end(manifest);
    }
    if (path === `/v2/team/app/blobs/sha256:${sha(config)}`) return res.writeHead(200, { 'content-length': config.length }).end(config);
    if (path === `/v2/team/app/blobs/sha256:${sha(layer)}`) {
      if (mode === 'redirect-file') return res.writeHead(302, { location: 'file:///etc/hostname' }).end();
      if (mode === 'redirect-other') return res.writeHead(307, { location: `${otherUrl}/layer` }).end();
      if (mode === 'longer') {
        const longer = Buffer.concat([layer, Buffer.from('and more')]);
        return res.writeHead(200, { 'content-length': longer.length }).end(longer);
      }
      return res.writeHead(200, { 'content-length': layer.length }).end(layer);
    }
    res.writeHead(404).end();
  }

  const env = () => ({ REGISTRY_AUTH_FILE: join(dir, 'auth.json') });
  const spec = () => join(dir, 'spec.yaml');
  const oneLine = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ferry:'));

  async function cached(cache: string): Promise<string[]> {
    return (await readdir(join(cache, 'sha256')).catch(() => [])).sort();
  }

  it('locks and builds from the registry when it behaves', async () => {
    mode = 'ok';
    const cache = join(dir, 'cache-ok');
    const l = await ferry(['lock', spec(), '--cache', cache], { env: env() });
    expect(l.code, l.stderr).toBe(0);
    const b = await ferry(['build', spec(), '--locked', '--key', key.secret, '--out', join(dir, 'out-ok'), '--cache', cache], { env: env() });
    expect(b.code, b.stderr).toBe(0);
    expect(await readdir(join(dir, 'out-ok'))).toEqual(['img-1.0.0.ferry']);
  });

  it.each<[Mode, number, RegExp]>([
    ['wrong-digest', 67, /sha256 is sha256:[0-9a-f]{64}, not sha256:0{64}; nothing was used/],
    ['endless-manifest', 69, /larger than the 4194304-byte limit/],
    ['realm-file', 69, /token realm that is not an http\(s\) URL/],
    ['realm-ftp', 69, /token realm that is not an http\(s\) URL/],
    ['huge-token', 69, /larger than the 1048576-byte limit/],
    ['null-token', 69, /the token answer holds no token/],
    ['long-challenge', 69, /authentication ferry does not know \("Negotiate x+…"\)/],
  ])('ferry lock refuses a registry whose answer is %s (exit %i), one line, no lock written', async (m, code, message) => {
    mode = m;
    const cache = join(dir, `cache-${m}`);
    const r = await ferry(['lock', spec(), '--cache', cache], { env: env() });
    expect(r.code, r.stderr).toBe(code);
    expect(oneLine(r.stderr), r.stderr).toHaveLength(1);
    expect(oneLine(r.stderr)[0]).toMatch(message);
    expect(oneLine(r.stderr)[0]!.length).toBeLessThan(1000);
    expect(r.stderr).not.toContain('secret-password');
    expect(existsSync(join(dir, 'spec.lock.json.tmp'))).toBe(false);
  });

  it('asks the realm for the pull scope of the repository only, whatever the challenge holds', async () => {
    mode = 'injected-challenge';
    const r = await ferry(['lock', spec(), '--cache', join(dir, 'cache-injected')], { env: env() });
    expect(r.code, r.stderr).toBe(0);
  });

  it.each<[Mode, number, RegExp]>([
    ['longer', 67, /sha256|size|bytes/],
    ['redirect-file', 69, /Invalid URL protocol/],
  ])('ferry build refuses a blob the registry answers with %s (exit %i): nothing of it is cached, no bundle', async (m, code, message) => {
    mode = 'ok';
    const cache = join(dir, `cache-build-${m}`);
    expect((await ferry(['lock', spec(), '--cache', cache], { env: env() })).code).toBe(0);
    mode = m;
    const out = join(dir, `out-${m}`);
    const r = await ferry(['build', spec(), '--locked', '--key', key.secret, '--out', out, '--cache', cache], { env: env() });
    expect(r.code, r.stderr).toBe(code);
    expect(oneLine(r.stderr), r.stderr).toHaveLength(1);
    expect(oneLine(r.stderr)[0]).toMatch(message);
    expect(await cached(cache)).not.toContain(sha(layer));
    expect(await readdir(out).catch(() => [])).toEqual([]);
    // the bytes of the build machine's file never stand in for the blob
    expect(r.stderr).not.toContain((await readFile('/etc/hostname', 'utf8')).trim() + '\n');
  });

  it('follows a blob redirected to another host without the login', async () => {
    mode = 'ok';
    const cache = join(dir, 'cache-other');
    expect((await ferry(['lock', spec(), '--cache', cache], { env: env() })).code).toBe(0);
    mode = 'redirect-other';
    otherAuth.length = 0;
    const r = await ferry(['build', spec(), '--locked', '--key', key.secret, '--out', join(dir, 'out-other'), '--cache', cache], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(otherAuth.length).toBeGreaterThan(0);
    expect(otherAuth.every((a) => a === undefined)).toBe(true);
  });
});

/** The login for registry.example in auth.json and a spec reading registry.example from `url`, in `dir`. */
async function writeLoginAndSpec(dir: string, url: string): Promise<void> {
  await writeFile(join(dir, 'auth.json'), JSON.stringify({ auths: { 'registry.example': { auth: Buffer.from('user:secret-password').toString('base64') } } }));
  await writeFile(
    join(dir, 'spec.yaml'),
    `name: img\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nupstreams:\n  images:\n    registries:\n      registry.example: { url: "${url}" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      images: [{ ref: "registry.example/team/app:1", platforms: [linux/amd64] }]\n`,
  );
}

/**
 * A registry whose challenge names a token realm over plain http where the login would cross the network
 * in clear: from a registry reached over https (a downgrade), or from one over plain http, on another host
 * than the registry's (a host the spec never named; a token service on another port beside the registry is
 * fine). ferry refuses before the realm sees a request with the login.
 */
describe.each([
  { what: 'a registry over https that names a plain http token realm', tls: true, realmHost: '127.0.0.1', message: /names a plain http token realm \(http:\/\/127\.0\.0\.1:\d+\); ferry sends the registry login only over https/ },
  {
    what: 'a registry over http that names a plain http token realm on another host',
    tls: false,
    // another loopback address: another host by name and address, still on this machine
    realmHost: '127.0.0.2',
    message: /names a plain http token realm on another host \(http:\/\/127\.0\.0\.2:\d+\); ferry sends the registry login over plain http only to the registry's own host \(127\.0\.0\.1\)/,
  },
])('$what', ({ tls, realmHost, message }) => {
  let dir: string;
  let registry: Server | HttpsServer;
  let realm: Server;
  const realmAuth: Array<string | undefined> = [];
  const env = (): NodeJS.ProcessEnv => (tls ? { NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') } : {});

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-realm-cleartext-'));
    realm = createServer((req, res) => {
      realmAuth.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'good' }));
    });
    await new Promise<void>((r) => realm.listen(0, realmHost, r));
    const realmUrl = `http://${realmHost}:${(realm.address() as { port: number }).port}/token`;
    const answer = (req: IncomingMessage, res: ServerResponse) => {
      if (req.headers.authorization === 'Bearer good') return res.writeHead(404).end();
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realmUrl}",service="registry.example"` }).end();
    };
    const cert = tls ? await makeCertificate() : undefined;
    registry = cert ? createHttpsServer({ cert: cert.cert, key: cert.key }, answer) : createServer(answer);
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
    if (cert) await writeFile(join(dir, 'ca.pem'), cert.cert);
    await writeLoginAndSpec(dir, `${tls ? 'https' : 'http'}://127.0.0.1:${(registry.address() as { port: number }).port}`);
  });
  afterAll(async () => {
    await new Promise((r) => registry?.close(r));
    await new Promise((r) => realm?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('ferry lock refuses with one line (exit 69) and the realm never sees the login', async () => {
    realmAuth.length = 0;
    const r = await ferry(['lock', join(dir, 'spec.yaml'), '--cache', join(dir, 'cache')], { env: { REGISTRY_AUTH_FILE: join(dir, 'auth.json'), ...env() } });
    expect(r.code, r.stderr).toBe(69);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(realmAuth).toEqual([]);
    expect(existsSync(join(dir, 'spec.lock.json'))).toBe(false);
  });

  it('without a login, the anonymous token is fetched from the realm wherever it is', async () => {
    realmAuth.length = 0;
    const r = await ferry(['lock', join(dir, 'spec.yaml'), '--cache', join(dir, 'cache-anonymous')], { env: { REGISTRY_AUTH_FILE: join(dir, 'none.json'), ...env() } });
    // with the token the registry answers the manifest with 404: the realm was asked, without a login
    expect(r.code, r.stderr).toBe(69);
    expect(r.stderr).toMatch(/404/);
    expect(realmAuth).toEqual([undefined]);
  });
});

/** The same rule, for the names of one machine's loopback address: a registry at localhost, its token service at 127.0.0.1. */
describe('a registry at localhost over http whose token realm is 127.0.0.1', () => {
  let dir: string;
  let registry: Server;
  let realm: Server;
  const realmAuth: Array<string | undefined> = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-realm-loopback-'));
    realm = createServer((req, res) => {
      realmAuth.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'good' }));
    });
    await new Promise<void>((r) => realm.listen(0, '127.0.0.1', r));
    const realmUrl = `http://127.0.0.1:${(realm.address() as { port: number }).port}/token`;
    registry = createServer((req, res) => {
      if (req.headers.authorization === 'Bearer good') return res.writeHead(404).end();
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realmUrl}",service="registry.example"` }).end();
    });
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
    await writeLoginAndSpec(dir, `http://localhost:${(registry.address() as { port: number }).port}`);
  });
  afterAll(async () => {
    await new Promise((r) => registry?.close(r));
    await new Promise((r) => realm?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('sends the login to the realm: one machine, nothing crosses the network', async () => {
    const r = await ferry(['lock', join(dir, 'spec.yaml'), '--cache', join(dir, 'cache')], { env: { REGISTRY_AUTH_FILE: join(dir, 'auth.json') } });
    // with the token the registry answers the manifest with 404: the realm was asked, with the login
    expect(r.code, r.stderr).toBe(69);
    expect(r.stderr).toMatch(/404/);
    expect(realmAuth).toEqual([`Basic ${Buffer.from('user:secret-password').toString('base64')}`]);
  });
});
