import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as forwardRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { run } from '../helpers/cli.js';

/** A Debian docker-registry (the distribution registry) on a free loopback port, its storage and config in `dir`. */
export interface Registry {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, as image references name it */
  host: string;
  storage: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Start docker-registry; with `htpasswd` ([user, password]) it requires Basic authentication, with
 * `token` bearer tokens from that realm, signed by the key of the certificate `rootcertbundle`. Another
 * process may take the free port between asking and binding (other engineers' tests run at once):
 * then start again on another one.
 */
export async function startRegistry(dir: string, opts: { htpasswd?: [string, string]; token?: { realm: string; service: string; issuer: string; rootcertbundle: string } } = {}): Promise<Registry> {
  const storage = join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  let auth = '';
  if (opts.htpasswd) {
    const file = join(dir, 'htpasswd');
    const r = await run('htpasswd', ['-Bbc', file, ...opts.htpasswd]);
    if (r.code !== 0) throw new Error(`htpasswd: ${r.stderr}`);
    auth = `auth:\n  htpasswd:\n    realm: ferry-test\n    path: ${file}\n`;
  }
  if (opts.token) auth = `auth:\n  token:\n${Object.entries(opts.token).map(([k, v]) => `    ${k}: ${v}\n`).join('')}`;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = join(dir, 'config.yml');
    await writeFile(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: false\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`);
    const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
    const url = `http://127.0.0.1:${port}`;
    const up = await Promise.race([answers(url, child), exited.then(() => false)]);
    if (up) return { url, host: `127.0.0.1:${port}`, storage, stop: () => stop(child, exited) };
    child.kill('SIGKILL');
    if (attempt >= 4 || !/address already in use/.test(stderr)) throw new Error(`docker-registry did not start: ${stderr}`);
  }
}

/** Poll /v2/ until the registry answers (200, or 401 with auth on) or the process ends. */
async function answers(url: string, child: ChildProcess): Promise<boolean> {
  while (child.exitCode === null) {
    try {
      const res = await request(`${url}/v2/`);
      await res.body.dump();
      if (res.statusCode === 200 || res.statusCode === 401) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function stop(child: ChildProcess, exited: Promise<number>): Promise<void> {
  if (child.exitCode === null) child.kill('SIGTERM');
  await exited;
}

/** Where the registry keeps a blob's bytes (distribution's filesystem driver). */
export function registryBlobPath(registry: Registry, digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return join(registry.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

async function must(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/**
 * An image in an OCI layout made with umoci: an empty base, then one layer holding `files`
 * (path -> content), its config saying `architecture`. Returns the manifest digest.
 */
export async function makeImage(layout: string, tag: string, files: Record<string, string | Buffer>, architecture = 'amd64'): Promise<string> {
  const work = `${layout}.work-${tag}`;
  await must('sh', ['-c', `test -e "$1/index.json" || umoci init --layout "$1"`, 'sh', layout]);
  await must('umoci', ['new', '--image', `${layout}:${tag}`]);
  await must('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, work]);
  for (const [path, content] of Object.entries(files)) {
    const file = join(work, 'rootfs', path);
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, content);
  }
  await must('umoci', ['repack', '--image', `${layout}:${tag}`, work]);
  await must('umoci', ['config', '--image', `${layout}:${tag}`, '--architecture', architecture, '--os', 'linux']);
  await must('rm', ['-rf', work]);
  return digestOf(layout, tag);
}

/** The digest the layout's index.json names for a tag. */
export async function digestOf(layout: string, tag: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const m = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!m) throw new Error(`${layout} has no tag ${tag}`);
  return m.digest;
}

/** A multi-platform index over tagged single-platform images of the layout, tagged `tag`. Returns its digest. */
export async function makeIndex(layout: string, tag: string, images: Array<{ tag: string; architecture: string; variant?: string }>): Promise<string> {
  const indexFile = join(layout, 'index.json');
  const index = JSON.parse(await readFile(indexFile, 'utf8')) as { manifests: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }> };
  const manifests = images.map((i) => {
    const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === i.tag)!;
    return { mediaType: d.mediaType, digest: d.digest, size: d.size, platform: { architecture: i.architecture, os: 'linux', ...(i.variant && { variant: i.variant }) } };
  });
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(layout, 'blobs/sha256', hex), bytes);
  index.manifests.push({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${hex}`, size: bytes.length, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(indexFile, JSON.stringify(index));
  return `sha256:${hex}`;
}

/** skopeo copy (all platforms) from an OCI layout tag into the registry, as REPOSITORY:TAG. */
export async function push(layout: string, tag: string, registry: Registry, target: string, creds?: [string, string]): Promise<void> {
  const policy = join(layout, '..', 'skopeo-policy.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await must('skopeo', ['--policy', policy, 'copy', '--all', '--quiet', '--dest-tls-verify=false', ...(creds ? ['--dest-creds', creds.join(':')] : []), `oci:${layout}:${tag}`, `docker://${registry.host}/${target}`]);
}

/**
 * A token service as registries use (the distribution spec's token flow): GET REALM?service=…&scope=…
 * with the login as Basic authentication answers {"token": JWT}, the JWT signed with `keyPem` and carrying
 * its certificate (x5c), granting exactly the actions the scope asks for. Returns the realm URL.
 */
export async function startTokenService(opts: { keyPem: string; certPem: string; service: string; issuer: string; login: [string, string] }): Promise<{ realm: string; requests: string[]; stop(): Promise<void> }> {
  const { sign, randomUUID, X509Certificate } = await import('node:crypto');
  const der = new X509Certificate(opts.certPem).raw.toString('base64');
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const requests: string[] = [];
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.search);
    const expected = `Basic ${Buffer.from(opts.login.join(':')).toString('base64')}`;
    if (req.headers.authorization !== expected) return res.writeHead(401).end();
    const access = url.searchParams.getAll('scope').map((scope) => {
      const [type, name, actions] = scope.split(':');
      return { type, name, actions: (actions ?? '').split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const head = b64({ alg: 'RS256', typ: 'JWT', x5c: [der] });
    const body = b64({ iss: opts.issuer, sub: opts.login[0], aud: opts.service, exp: now + 3600, nbf: now - 60, iat: now, jti: randomUUID(), access });
    const signature = sign('sha256', Buffer.from(`${head}.${body}`), opts.keyPem).toString('base64url');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${head}.${body}.${signature}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { realm: `http://127.0.0.1:${port}/token`, requests, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * A loopback proxy in front of `registry` that, once armed, holds every answer to a request for
 * content by digest (`/v2/REPO/blobs|manifests/sha256:…`) of the first repository asked for, until a
 * request by digest for another repository arrives: `overlapped` tells whether one did while the first
 * was held. A client that fetches one image after the other never sends it; so the held answers are
 * let go after `giveUpMs` (only so that such a client finishes: the test asserts `overlapped`, no time).
 */
export async function startHoldingProxy(registry: Registry, giveUpMs = 60_000): Promise<{ url: string; arm(): void; readonly overlapped: boolean; stop(): Promise<void> }> {
  let armed = false;
  let first: string | undefined;
  let overlapped = false;
  const held: Array<() => void> = [];
  const releaseAll = () => held.splice(0).forEach((go) => go());
  let timer: NodeJS.Timeout | undefined;
  const target = new URL(registry.url);
  const server = createHttpServer((req, res) => {
    const go = () => forwardTo(target, req, res);
    const repository = armed ? /^\/v2\/(.+)\/(?:blobs|manifests)\/sha256:/.exec(req.url ?? '')?.[1] : undefined;
    if (repository === undefined) return go();
    first ??= repository;
    if (repository === first && !overlapped) {
      held.push(go);
      timer ??= setTimeout(releaseAll, giveUpMs);
      return;
    }
    if (repository !== first && held.length > 0) overlapped = true;
    releaseAll();
    go();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    arm: () => (armed = true),
    get overlapped() {
      return overlapped;
    },
    stop: () => {
      clearTimeout(timer);
      releaseAll();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A proxy in front of the registry that, after `hold()`, holds every blob request (configs, layers) until
 * `open()`: `held` counts the waiting ones, `requests` every request that reached it.
 */
export async function startGate(registry: Registry): Promise<{ url: string; readonly held: number; readonly requests: number; hold(): void; open(): void; stop(): Promise<void> }> {
  const target = new URL(registry.url);
  const waiting: Array<() => void> = [];
  let holding = false;
  let requests = 0;
  const server = createHttpServer((req, res) => {
    requests++;
    const go = () => forwardTo(target, req, res);
    if (!holding || !/\/blobs\/sha256:/.test(req.url ?? '')) go();
    else waiting.push(go);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const open = () => {
    holding = false;
    waiting.splice(0).forEach((go) => go());
  };
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    get held() {
      return waiting.length;
    },
    get requests() {
      return requests;
    },
    hold: () => (holding = true),
    open,
    stop: () => {
      open();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Pass one request on to the registry and its answer back. */
function forwardTo(target: URL, req: IncomingMessage, res: ServerResponse): void {
  const up = forwardRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}

/**
 * A loopback proxy in front of `registry` that, once armed, holds each `GET /v2/` (the check that starts
 * every repository's authorization) until another arrives, then lets all go: `overlapped` tells whether
 * two were asked at once. A client that asks one after the other never sends a second while the first
 * waits; so a held one is let go after `giveUpMs` (only so that such a client finishes: the test asserts
 * `overlapped`, no time).
 */
export async function startPingGate(registry: Registry, giveUpMs = 60_000): Promise<{ url: string; arm(): void; readonly overlapped: boolean; stop(): Promise<void> }> {
  const target = new URL(registry.url);
  let armed = false;
  let overlapped = false;
  const held: Array<() => void> = [];
  const timers = new Set<NodeJS.Timeout>();
  const releaseAll = () => held.splice(0).forEach((go) => go());
  const server = createHttpServer((req, res) => {
    const go = () => forwardTo(target, req, res);
    if (!armed || !/^\/v2\/?$/.test(req.url ?? '')) return go();
    if (held.length > 0) {
      overlapped = true;
      releaseAll();
      return go();
    }
    held.push(go);
    const timer = setTimeout(() => {
      timers.delete(timer);
      releaseAll();
    }, giveUpMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    arm: () => (armed = true),
    get overlapped() {
      return overlapped;
    },
    stop: () => {
      timers.forEach((t) => clearTimeout(t));
      releaseAll();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
