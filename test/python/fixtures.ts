import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { run } from '../helpers/cli.js';
import { lockPython } from '../../src/sources/python/lockPython.js';
import { parseSpecText } from '../../src/specfile/loadSpec.js';
import { silentLogger } from '../../src/ui/log.js';
import type { BuildContext } from '../../src/sources/kind.js';

export interface FixtureWheel {
  name: string;
  version: string;
  tag?: string;
  requires?: string[];
  requires_python?: string;
  extras?: string[];
  build?: string;
  files?: Record<string, string>;
}

/** Build wheels with python's zipfile (scripts/fixtures/make_wheel.py); returns their file names, in order. */
export function buildWheels(outDir: string, wheels: FixtureWheel[]): string[] {
  const out = execFileSync('python3', [join(import.meta.dirname, '../../scripts/fixtures/make_wheel.py')], { input: JSON.stringify(wheels.map((w) => ({ ...w, out: outDir }))), encoding: 'utf8' });
  return out.trim().split('\n');
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The Python running the tests: version "3.11" and machine "x86_64", so fixture wheels fit this host's pip. */
export function hostPython(): { version: string; machine: string } {
  const [version, machine] = execFileSync('python3', ['-c', 'import sys, platform; print("%d.%d" % sys.version_info[:2]); print(platform.machine())'], { encoding: 'utf8' })
    .trim()
    .split('\n') as [string, string];
  return { version, machine };
}

export interface FixtureIndex {
  /** http://127.0.0.1:PORT/simple/ */
  url: string;
  /** request paths seen, in order ("HEAD /path" for other methods than GET) */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serve the wheels of `filesDir` as a simple index on 127.0.0.1: PEP 503 HTML, or PEP 691 JSON when
 * `json` is set and the client asks for it; with `pep658`, each wheel's METADATA at URL.metadata and
 * announced on the page. Pages are made at each request from the current bytes, so a test can change a
 * wheel between two steps. `yanked` marks files yanked with a reason; `metadata` serves (and announces the
 * sha256 of) another PEP 658 file than the wheel's own METADATA; `requiresPython: false` leaves out the
 * files' Requires-Python (data-requires-python), as an index made from file names alone does; `unhashed`
 * files are linked without their #sha256= fragment (HTML); `fragments` links a file with another fragment
 * (HTML: `#md5=…`), `hashes` gives a file another "hashes" object (JSON). `gone` files stay listed but
 * are answered 404 (a file server that lost them). Options are read at each request, so a test may change them.
 */
export async function serveFixtureIndex(
  filesDir: string,
  opts: { json?: boolean; pep658?: boolean; yanked?: Record<string, string>; metadata?: Record<string, string>; requiresPython?: false; unhashed?: string[]; fragments?: Record<string, string>; hashes?: Record<string, Record<string, unknown>>; gone?: string[]; uploadTimes?: Record<string, string> } = {},
): Promise<FixtureIndex> {
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(req.method === 'GET' ? path : `${req.method} ${path}`);
    try {
      const page = /^\/simple\/([^/]+)\/$/.exec(path);
      if (page) {
        const project = page[1]!;
        const files = (await readdir(filesDir)).filter((f) => normalizeName(f.split('-')[0]!) === project).sort();
        if (files.length === 0) return send(res, 404, 'text/plain', 'not found');
        const entries = await Promise.all(
          files.map(async (f) => {
            const bytes = await readFile(join(filesDir, f));
            const md = opts.pep658 && f.endsWith('.whl') ? (opts.metadata?.[f] ?? (await wheelMetadata(join(filesDir, f)))) : undefined;
            return { f, hash: sha256(bytes), size: bytes.length, md: md ? sha256(Buffer.from(md)) : undefined, rp: opts.requiresPython === false ? undefined : await requiresPython(join(filesDir, f)) };
          }),
        );
        if (opts.json && String(req.headers.accept).includes('application/vnd.pypi.simple.v1+json')) {
          const body = {
            meta: { 'api-version': '1.1' },
            name: project,
            files: entries.map((e) => ({
              filename: e.f,
              url: `../../files/${e.f}`,
              hashes: opts.hashes?.[e.f] ?? { sha256: e.hash },
              'requires-python': e.rp ?? null,
              size: e.size,
              yanked: opts.yanked?.[e.f] ?? false,
              ...(e.md ? { 'core-metadata': { sha256: e.md } } : {}),
              // PEP 700, read from the object at each request: a test may date a file it adds after a lock
              ...(opts.uploadTimes?.[e.f] ? { 'upload-time': opts.uploadTimes[e.f] } : {}),
            })),
          };
          return send(res, 200, 'application/vnd.pypi.simple.v1+json', JSON.stringify(body));
        }
        const links = entries.map((e) => {
          const attrs = [
            e.rp ? ` data-requires-python="${e.rp.replace(/</g, '&lt;').replace(/>/g, '&gt;')}"` : '',
            opts.yanked?.[e.f] !== undefined ? ` data-yanked="${opts.yanked[e.f]}"` : '',
            e.md ? ` data-core-metadata="sha256=${e.md}" data-dist-info-metadata="sha256=${e.md}"` : '',
          ].join('');
          return `<a href="../../files/${e.f}${opts.unhashed?.includes(e.f) ? '' : (opts.fragments?.[e.f] ?? `#sha256=${e.hash}`)}"${attrs}>${e.f}</a><br/>`;
        });
        return send(res, 200, 'text/html', `<!DOCTYPE html><html><body>\n${links.join('\n')}\n</body></html>\n`);
      }
      const file = /^\/files\/([^/]+)$/.exec(path);
      if (file) {
        const name = file[1]!;
        if (opts.gone?.includes(name)) return send(res, 404, 'text/plain', 'not found');
        if (opts.pep658 && name.endsWith('.whl.metadata')) {
          const wheel = name.slice(0, -'.metadata'.length);
          return send(res, 200, 'application/octet-stream', opts.metadata?.[wheel] ?? (await wheelMetadata(join(filesDir, wheel))));
        }
        return send(res, 200, 'application/octet-stream', await readFile(join(filesDir, name)));
      }
      send(res, 404, 'text/plain', 'not found');
    } catch {
      send(res, 404, 'text/plain', 'not found');
    }
  });
  const url = await listen(server);
  return { url: `${url}/simple/`, requests, close: () => close(server) };
}

function send(res: import('node:http').ServerResponse, status: number, type: string, body: string | Buffer) {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function normalizeName(n: string): string {
  return n.replace(/[-_.]+/g, '-').toLowerCase();
}

async function requiresPython(path: string): Promise<string | undefined> {
  if (!path.endsWith('.whl')) return undefined;
  return /^Requires-Python: (.*)$/m.exec(await wheelMetadata(path))?.[1];
}

/** METADATA of a wheel (the fixture server's PEP 658 file). */
export function wheelMetadata(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      zip.on('entry', (e: yauzl.Entry) => {
        if (!e.fileName.endsWith('.dist-info/METADATA')) return zip.readEntry();
        zip.openReadStream(e, async (err2, s) => {
          if (err2 || !s) return reject(err2);
          const chunks: Buffer[] = [];
          for await (const c of s) chunks.push(c as Buffer);
          zip.close();
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });
      zip.on('end', () => reject(new Error(`${path}: no METADATA`)));
      zip.readEntry();
    });
  });
}

/** Requirements text in the pip-compile form: every pin with the hashes of all its files. */
export async function requirementsFor(filesDir: string, pins: Array<{ name: string; version: string; extras?: string[]; marker?: string }>): Promise<string> {
  const all = await readdir(filesDir);
  const lines: string[] = ['# generated by the test, in the form pip-compile --generate-hashes writes'];
  for (const p of pins) {
    const prefix = `${p.name.replace(/-/g, '_')}-${p.version}`;
    const files = all.filter((f) => f.startsWith(`${prefix}-`) || f === `${prefix}.tar.gz`).sort();
    const hashes = await Promise.all(files.map(async (f) => sha256(await readFile(join(filesDir, f)))));
    lines.push(`${p.name}${p.extras ? `[${p.extras.join(',')}]` : ''}==${p.version}${p.marker ? ` ; ${p.marker}` : ''} \\`);
    lines.push(...hashes.map((h, i) => `    --hash=sha256:${h}${i < hashes.length - 1 ? ' \\' : ''}`));
    lines.push(`    # via test`);
  }
  return lines.join('\n') + '\n';
}

/** Run a command, collecting its output; never throws on a non-zero exit. */
export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(cmd, args, { env });
}

/** Environment for pip that reaches nothing but 127.0.0.1: no config files, every other host behind a dead proxy. */
export const PIP_OFFLINE_ENV: NodeJS.ProcessEnv = {
  PIP_CONFIG_FILE: '/dev/null',
  PIP_NO_INPUT: '1',
  PIP_DISABLE_PIP_VERSION_CHECK: '1',
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
  NO_PROXY: '127.0.0.1',
  no_proxy: '127.0.0.1',
};

/**
 * Write, in `dir`, a spec (spec.yaml) of one service pinning `requirements` (requirements/app.txt) on
 * `index`, for CPython 3.11 on manylinux_2_17_x86_64 (sdists allowed with `allowSdist`); returns its path.
 */
export async function writeLockSpecIn(dir: string, index: string, requirements: string, allowSdist = false): Promise<string> {
  await mkdir(join(dir, 'requirements'));
  await writeFile(join(dir, 'requirements/app.txt'), requirements);
  const text = [
    'name: choice',
    'version: 1.0.0',
    'epoch: 2026-11-25T00:00:00Z',
    'targets:',
    '  python: { version: "3.11", platforms: [manylinux_2_17_x86_64] }',
    'upstreams:',
    `  python: { index: "${index}"${allowSdist ? ', allow_sdist: true' : ''} }`,
    'services:',
    '  app:',
    '    version: 1.0.0',
    '    groups: [app]',
    '    artifacts:',
    '      python: { requirements: requirements/app.txt }',
    '',
  ].join('\n');
  await writeFile(join(dir, 'spec.yaml'), text);
  return join(dir, 'spec.yaml');
}

/** The files lockPython (ferry lock's python step) chooses for the spec at `specPath` (cache in `dir`). */
export async function lockedFiles(dir: string, specPath: string): Promise<string[]> {
  const spec = parseSpecText(await readFile(specPath, 'utf8'), specPath);
  const ctx: BuildContext = { spec, baseDir: dir, epoch: spec.epoch, cacheDir: join(dir, 'cache'), workDir: dir, signingKeys: async () => [], jobs: 2, log: silentLogger };
  return (await lockPython(ctx))!.files.map((f) => f.filename);
}
