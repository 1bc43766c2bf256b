import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
 * Start docker-registry; with `htpasswd` ([user, password]) it requires Basic authentication. Another
 * process may take the free port between asking and binding (other engineers' tests run at once):
 * then start again on another one.
 */
export async function startRegistry(dir: string, opts: { htpasswd?: [string, string] } = {}): Promise<Registry> {
  const storage = join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  let auth = '';
  if (opts.htpasswd) {
    const file = join(dir, 'htpasswd');
    const r = await run('htpasswd', ['-Bbc', file, ...opts.htpasswd]);
    if (r.code !== 0) throw new Error(`htpasswd: ${r.stderr}`);
    auth = `auth:\n  htpasswd:\n    realm: ferry-test\n    path: ${file}\n`;
  }
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
