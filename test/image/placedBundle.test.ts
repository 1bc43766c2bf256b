import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { OCI_MANIFEST, desc, json, sha } from './fakeRegistry.js';


/**
 * A locked image build writes each layer it downloads into the bundle as the bytes arrive (build/placeBundle.ts),
 * besides the cache: the layer is never read back from the cache to be packed. The bundle keeps its bytes,
 * appears only whole, and the cache still answers the next build.
 */
describe('a locked image build fills the bundle as the layers download', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  let server: Server;
  let url = '';
  /** what the registry answers for each digest (the tests change a layer's bytes under its digest) */
  const blobs = new Map<string, Buffer>();
  /** a request for this digest sends half its bytes and then waits */
  let hold: string | undefined;
  /** the held responses, to be finished by a test */
  const held: Array<() => void> = [];
  const requests: string[] = [];
  /** "DIGEST START" of each Range request */
  const ranges: string[] = [];
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  // random, so a bundle holding it in the wrong place or twice cannot pass; more than the 256 KiB a download receives into memory
  const big = randomBytes(3 * 1024 * 1024 + 123);
  const small = Buffer.from('a small layer\n');
  let manifest: Buffer;
  let spec = '';
  const env = () => ({ REGISTRY_AUTH_FILE: join(dir, 'no-auth.json') });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-placed-${process.pid}-`));
    key = await writeKey(dir, 'team');
    manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [big, small].map((l) => desc('application/vnd.oci.image.layer.v1.tar', l)) });
    for (const b of [config, big, small, manifest]) blobs.set(`sha256:${sha(b)}`, b);
    server = createServer((req, res) => {
      const path = req.url ?? '';
      requests.push(path);
      if (path === '/v2/') return res.writeHead(200).end('{}');
      const m = /^\/v2\/team\/app\/(manifests|blobs)\/(.+)$/.exec(path);
      const body = m && (m[2] === '1' ? manifest : blobs.get(m[2]!));
      if (!body) return res.writeHead(404).end();
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range && Number(range[1]) < body.length) {
        ranges.push(`${m![2]} ${range[1]}`);
        const from = Number(range[1]);
        res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` });
        return res.end(body.subarray(from));
      }
      res.writeHead(200, { 'content-type': m![1] === 'manifests' ? OCI_MANIFEST : 'application/octet-stream', 'content-length': body.length });
      if (m![2] === hold) {
        held.push(() => res.end(body.subarray(body.length >> 1)));
        return res.write(body.subarray(0, body.length >> 1));
      }
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    spec = join(dir, 'spec.yaml');
    await writeFile(
      spec,
      `name: img\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nupstreams:\n  images:\n    registries:\n      registry.example: { url: "${url}" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      images: [{ ref: "registry.example/team/app:1", platforms: [linux/amd64] }]\n`,
    );
    const locked = await ferry(['lock', spec, '--cache', join(dir, 'cache-lock')], { env: env() });
    expect(locked.code, locked.stderr).toBe(0);
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  const build = (out: string, cache: string) => ['build', spec, '--locked', '--key', key.secret, '--out', join(dir, out), '--cache', join(dir, cache), '--json'];

  /** a build run in the background, its progress lines on stderr ("images: 1.5 MiB/3.0 MiB (50%)") */
  const startBuild = (out: string, cache: string) => {
    const child = spawn(process.execPath, [FERRY_BIN, ...build(out, cache).filter((a) => a !== '--json')], { env: { ...process.env, ...env() } });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const percent = () => Math.max(0, ...[...stderr.matchAll(/\((\d+)%\)/g)].map((m) => Number(m[1])));
    return {
      closed,
      stderr: () => stderr,
      /** wait while the build runs until `ready` says so (given the highest percentage shown yet) */
      async until(ready: (percent: number) => boolean | Promise<boolean>): Promise<void> {
        while (!(await ready(percent()))) {
          if (child.exitCode !== null) throw new Error(`the build ended: ${stderr}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      stop(): Promise<number | null> {
        child.kill('SIGTERM');
        return closed;
      },
    };
  };
  /** stop holding a layer back, and let the responses held so far finish */
  const releaseHeld = () => {
    hold = undefined;
    for (const finish of held.splice(0)) finish();
  };

  it('writes the downloaded layer once, into the bundle as it arrives: the cache keeps it as a link to the bundle, never reads it back; a warm rebuild fetches nothing, gives the same bytes and the layer its own cache entry', async () => {
    const trace = join(dir, 'io-trace');
    const cache = join(dir, 'cache');
    // one trace file per thread (-ff): no system call split across lines; -y names each descriptor's file
    const cold = await run(
      'strace',
      ['-ff', '-y', '-o', trace, '-e', 'trace=read,pread64,readv,preadv,preadv2,write,pwrite64,writev,pwritev,pwritev2', process.execPath, FERRY_BIN, ...build('out-cold', 'cache')],
      { env: env() },
    );
    expect(cold.code, cold.stderr).toBe(0);
    const lines = (await Promise.all((await readdir(dir)).filter((n) => n.startsWith('io-trace.')).map((n) => readFile(join(dir, n), 'utf8')))).join('\n').split('\n');
    const calls = lines.flatMap((l) => {
      const m = /^(\w+)\(\d+<([^>]*)>.*=\s+(\d+)$/.exec(l);
      return m ? [{ call: m[1]!, file: m[2]!, bytes: Number(m[3]) }] : [];
    });
    expect(calls.length).toBeGreaterThan(0);
    const underCache = calls.filter((c) => c.file.startsWith(`${cache}/`));
    // the layer is not read back from the cache (the small blobs received into memory are copied from there),
    // and less than the layer is written into it: its bytes went into the bundle alone
    expect(underCache.filter((c) => /read/.test(c.call) && (c.file.includes(sha(big)) || c.file.includes('/packs/')))).toEqual([]);
    const bundle = (JSON.parse(cold.stdout) as { bundle: string }).bundle;
    const intoBundle = calls.filter((c) => /write/.test(c.call) && c.file.includes('img-1.0.0.ferry')).reduce((n, c) => n + c.bytes, 0);
    expect(intoBundle).toBeGreaterThanOrEqual(big.length);
    expect(underCache.filter((c) => /write/.test(c.call)).reduce((n, c) => n + c.bytes, 0)).toBeLessThan(big.length);
    // the cache holds the bundle itself (a hard link, the same file) and names the layer's place in it
    expect(existsSync(join(cache, 'sha256', sha(big)))).toBe(false);
    const packs = await readdir(join(cache, 'packs'));
    expect(packs.filter((n) => n.endsWith('.ferry'))).toHaveLength(1);
    expect((await stat(join(cache, 'packs', packs.find((n) => n.endsWith('.ferry'))!))).ino).toBe((await stat(bundle)).ino);
    const root = await mkdtemp(join(dir, 'x-'));
    expect((await run('tar', ['-xf', bundle, '-C', root])).code).toBe(0);
    expect((await readFile(join(root, 'oci/blobs/sha256', sha(big)))).equals(big)).toBe(true);
    expect((await readFile(join(root, 'oci/blobs/sha256', sha(small)))).equals(small)).toBe(true);
    const verified = await ferry(['verify', bundle, '--keyring', key.public]);
    expect(verified.code, verified.stderr).toBe(0);

    const before = requests.length;
    const warm = await ferry(build('out-warm', 'cache'), { env: env() });
    expect(warm.code, warm.stderr).toBe(0);
    expect(requests.slice(before).filter((p) => p.includes('/blobs/'))).toEqual([]);
    expect((await readFile((JSON.parse(warm.stdout) as { bundle: string }).bundle)).equals(await readFile(bundle))).toBe(true);
    // the layer now has its own entry, and the link to the bundle, no longer needed, is gone
    expect((await readFile(join(cache, 'sha256', sha(big)))).equals(big)).toBe(true);
    expect(await readdir(join(cache, 'packs'))).toEqual([]);
  });

  it('a warm build does not take a layer from a bundle changed since (the link the cache keeps is the same file): it downloads it again', async () => {
    const cache = join(dir, 'cache-edited');
    const cold = await ferry(build('out-edited', 'cache-edited'), { env: env() });
    expect(cold.code, cold.stderr).toBe(0);
    const bundle = (JSON.parse(cold.stdout) as { bundle: string }).bundle;
    const bytes = await readFile(bundle);
    const at = bytes.indexOf(big.subarray(0, 64));
    expect(at).toBeGreaterThan(0);
    bytes[at + 1000] ^= 0xff;
    // in place, as an editor or a damaged disk would: the cache's link sees the change
    await writeFile(bundle, bytes);
    const before = requests.length;
    const warm = await ferry(build('out-edited-2', 'cache-edited'), { env: env() });
    expect(warm.code, warm.stderr).toBe(0);
    expect(warm.stderr).toContain('downloading it again');
    expect(requests.slice(before).filter((p) => p.endsWith(sha(big)))).toHaveLength(1);
    bytes[at + 1000] ^= 0xff;
    const again = (JSON.parse(warm.stdout) as { bundle: string }).bundle;
    expect((await readFile(again)).equals(bytes)).toBe(true);
    // the changed bundle's link is gone from the cache; the new bundle's took its place
    const packs = (await readdir(join(cache, 'packs'))).filter((n) => n.endsWith('.ferry'));
    expect(packs).toHaveLength(1);
    expect((await stat(join(cache, 'packs', packs[0]!))).ino).toBe((await stat(again)).ino);
  });

  it('refuses a layer whose bytes changed since the lock (exit 67, one line): no bundle, not even a partial one, and nothing cached', async () => {
    const digest = `sha256:${sha(big)}`;
    const changed = Buffer.from(big);
    changed[changed.length - 1] ^= 0xff;
    blobs.set(digest, changed);
    try {
      const b = await ferry(build('out-changed', 'cache-changed'), { env: env() });
      expect(b.code, b.stderr).toBe(67);
      expect(b.stderr.split('\n').filter((l) => l.startsWith('ferry:'))).toHaveLength(1);
      expect(await readdir(join(dir, 'out-changed')).catch(() => [])).toEqual([]);
      expect(await readdir(join(dir, 'cache-changed', 'sha256')).catch(() => [])).not.toContain(sha(big));
      expect(await readdir(join(dir, 'cache-changed', 'packs')).catch(() => [])).toEqual([]);
    } finally {
      blobs.set(digest, big);
    }
  });

  it('has the partial bundle while a layer downloads and leaves no bundle when stopped then (the partial is removed)', async () => {
    hold = `sha256:${sha(big)}`;
    try {
      const out = join(dir, 'out-stopped');
      const b = startBuild('out-stopped', 'cache-stopped');
      // at 40 % of the bytes the held layer's first half is being written, and in place, so the bundle's
      // partial file is there (the small blobs are under 1 %)
      await b.until((percent) => percent >= 40);
      expect((await readdir(out)).filter((n) => n.startsWith('img-1.0.0.ferry.') && n.endsWith('.partial'))).toHaveLength(1);
      await b.stop();
      expect(await readdir(out)).toEqual([]);
      // the bytes of the layer it got (written into the partial bundle alone) are kept in the cache...
      const partials = join(dir, 'cache-stopped', 'partial');
      const mine = (await readdir(partials)).filter((n) => n.startsWith(sha(big)));
      expect(mine).toHaveLength(1);
      const kept = await readFile(join(partials, mine[0]!, 'data'));
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.equals(big.subarray(0, kept.length))).toBe(true);
      // ...and the next build asks only for the rest
      releaseHeld();
      const again = await ferry(build('out-stopped', 'cache-stopped'), { env: env() });
      expect(again.code, again.stderr).toBe(0);
      expect(ranges).toContain(`sha256:${sha(big)} ${kept.length}`);
      const bundle = (JSON.parse(again.stdout) as { bundle: string }).bundle;
      expect((await ferry(['verify', bundle, '--keyring', key.public])).code).toBe(0);
      const root = await mkdtemp(join(dir, 'x-'));
      expect((await run('tar', ['-xf', bundle, '-C', root])).code).toBe(0);
      expect((await readFile(join(root, 'oci/blobs/sha256', sha(big)))).equals(big)).toBe(true);
    } finally {
      releaseHeld();
    }
  });

  it('stopped after a layer arrived whole (another still downloading): the cache keeps that layer from the partial bundle, and the next build does not fetch it', async () => {
    hold = `sha256:${sha(small)}`;
    const cache = join(dir, 'cache-stopped-late');
    try {
      const b = startBuild('out-stopped-late', 'cache-stopped-late');
      // the large layer's download finished (90 %: it is most of the bytes; its download
      // folder among the cache's partial downloads, made before its first byte, removed once it matched)
      const downloading = async () => (await readdir(join(cache, 'partial')).catch(() => [])).some((n) => n.startsWith(sha(big)));
      await b.until(async (percent) => percent >= 90 && !(await downloading()));
      await b.stop();
      expect(await readdir(join(dir, 'out-stopped-late'))).toEqual([]);
      releaseHeld();
      const before = requests.length;
      const again = await ferry(build('out-stopped-late', 'cache-stopped-late'), { env: env() });
      expect(again.code, again.stderr).toBe(0);
      expect(requests.slice(before).filter((p) => p.endsWith(sha(big)))).toEqual([]);
      const root = await mkdtemp(join(dir, 'x-'));
      expect((await run('tar', ['-xf', (JSON.parse(again.stdout) as { bundle: string }).bundle, '-C', root])).code).toBe(0);
      expect((await readFile(join(root, 'oci/blobs/sha256', sha(big)))).equals(big)).toBe(true);
    } finally {
      releaseHeld();
    }
  });

  it('two builds of the release into one folder at once: each writes its own partial bundle, both succeed, the bundle verifies', async () => {
    hold = `sha256:${sha(big)}`;
    const out = join(dir, 'out-twice');
    try {
      const first = startBuild('out-twice', 'cache-first');
      // the first build holds its partial bundle open, half of the layer written into it
      await first.until((percent) => percent >= 40);
      hold = undefined;
      // a second build of the same release into the same folder runs to its end meanwhile
      const second = await ferry(build('out-twice', 'cache-second'), { env: env() });
      expect(second.code, second.stderr).toBe(0);
      const bundle = join(out, 'img-1.0.0.ferry');
      const bytes = await readFile(bundle);
      // then the first build's layer arrives: it completes its own bundle, not a file the second renamed
      for (const finish of held.splice(0)) finish();
      expect(await first.closed, first.stderr()).toBe(0);
      expect((await readFile(bundle)).equals(bytes)).toBe(true);
      expect(await readdir(out)).toEqual(['img-1.0.0.ferry']);
      const verified = await ferry(['verify', bundle, '--keyring', key.public]);
      expect(verified.code, verified.stderr).toBe(0);
    } finally {
      releaseHeld();
    }
  });

  it('removes the partial bundle a killed build of the release left, not one whose build still runs', async () => {
    const out = join(dir, 'out-stale');
    await mkdir(out);
    // a process that has ended stands for the killed build; this test's process for one still running
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = `img-1.0.0.ferry.${gone}.partial`;
    const live = `img-1.0.0.ferry.${process.pid}.partial`;
    const other = `img-2.0.0.ferry.${gone}.partial`;
    for (const name of [stale, live, other]) await writeFile(join(out, name), 'left\n');
    const b = await ferry(build('out-stale', 'cache'), { env: env() });
    expect(b.code, b.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['img-1.0.0.ferry', live, other].sort());
  });
});
