import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, writeFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressInfo } from 'node:net';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { sha256Hex } from '../../src/util/sha256.js';

describe('files from http(s) URLs', () => {
  const body = Buffer.from('upstream file\n'.repeat(1000));
  let server: Server;
  let base: string;
  let requests = 0;
  let dir: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      if (req.url === '/f.txt') res.end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'ferry-files-url-'));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const spec = (sha: string) =>
    `name: u\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  s:\n    version: "1"\n    groups: [g]\n    artifacts:\n      files: [{ src: "${base}/f.txt", sha256: "${sha}" }]\n`;

  it('fetches a pinned URL into the bundle, and a second build downloads nothing', async () => {
    const key = await writeKey(dir, 'k');
    await writeFile(join(dir, 'ok.yaml'), spec(sha256Hex(body)));
    const first = await ferry(['build', join(dir, 'ok.yaml'), '--key', key.secret, '--out', join(dir, 'o1'), '--cache', join(dir, 'cache')]);
    expect(first.code, first.stderr).toBe(0);
    const afterFirst = requests;
    expect(afterFirst).toBeGreaterThan(0);
    const second = await ferry(['build', join(dir, 'ok.yaml'), '--key', key.secret, '--out', join(dir, 'o2'), '--cache', join(dir, 'cache')]);
    expect(second.code, second.stderr).toBe(0);
    expect(requests).toBe(afterFirst);
    expect(JSON.parse((await ferry(['build', join(dir, 'ok.yaml'), '--key', key.secret, '--out', join(dir, 'o2'), '--cache', join(dir, 'cache'), '--json'])).stdout).fetched).toEqual({
      fetchedBytes: 0,
      fetchedFiles: 0,
      cachedBytes: body.length * 2, // lock and collect each ask the cache once
      cachedFiles: 2,
    });
    const inspect = await ferry(['inspect', join(dir, 'o1/u-1.0.0.ferry'), '--json']);
    expect(JSON.parse(inspect.stdout).entries.map((e: { path: string }) => e.path)).toContain('files/s/f.txt');
  });

  it('refuses a URL whose bytes do not match the pinned sha256, and caches nothing', async () => {
    const key = await writeKey(dir, 'k2');
    await writeFile(join(dir, 'bad.yaml'), spec('0'.repeat(64)));
    const cache = join(dir, 'cache-bad');
    const r = await ferry(['build', join(dir, 'bad.yaml'), '--key', key.secret, '--out', join(dir, 'o3'), '--cache', cache]);
    expect(r.code).toBe(67);
    expect(r.stderr).toContain(`${base}/f.txt`);
    expect(r.stderr).toContain(sha256Hex(body));
    const cached = await readdir(join(cache, 'sha256')).catch(() => []);
    expect(cached).toEqual([]);
    expect(await readdir(join(dir, 'o3')).catch(() => [])).toEqual([]);
  });

  it('refuses (67, one line) a lock whose sha256 is the file\'s but whose size is not, and writes no bundle', async () => {
    const key = await writeKey(dir, 'k3');
    await writeFile(join(dir, 'sized.yaml'), spec(sha256Hex(body)));
    const locked = await ferry(['lock', join(dir, 'sized.yaml'), '--cache', join(dir, 'cache-sized-lock')]);
    expect(locked.code, locked.stderr).toBe(0);
    const lock = JSON.parse(await readFile(join(dir, 'sized.lock.json'), 'utf8'));
    expect(lock.kinds.files[0].size).toBe(body.length);
    lock.kinds.files[0].size = body.length - 1;
    await writeFile(join(dir, 'sized.lock.json'), JSON.stringify(lock));
    const r = await ferry(['build', join(dir, 'sized.yaml'), '--locked', '--key', key.secret, '--out', join(dir, 'o-sized'), '--cache', join(dir, 'cache-sized')]);
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([expect.stringMatching(new RegExp(`^ferry: ${base}/f\\.txt: expected ${body.length - 1} bytes`))]);
    expect(await readdir(join(dir, 'o-sized')).catch(() => [])).toEqual([]);
  });

  it('keeps the cache\'s verified file when a lock pins its sha256 with another size: refused (67, one line) without a request', async () => {
    const key = await writeKey(dir, 'k4');
    await writeFile(join(dir, 'kept.yaml'), spec(sha256Hex(body)));
    const cache = join(dir, 'cache-kept');
    const locked = await ferry(['lock', join(dir, 'kept.yaml'), '--cache', cache]);
    expect(locked.code, locked.stderr).toBe(0);
    const entry = join(cache, 'sha256', sha256Hex(body));
    expect((await stat(entry)).size).toBe(body.length);
    const lock = JSON.parse(await readFile(join(dir, 'kept.lock.json'), 'utf8'));
    lock.kinds.files[0].size = body.length + 1;
    await writeFile(join(dir, 'kept.lock.json'), JSON.stringify(lock));
    const before = requests;
    const r = await ferry(['build', join(dir, 'kept.yaml'), '--locked', '--key', key.secret, '--out', join(dir, 'o-kept'), '--cache', cache]);
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr.trim().split('\n').filter((l) => /^(ferry|warning):/.test(l))).toEqual([expect.stringMatching(new RegExp(`^ferry: ${base}/f\\.txt: expected ${body.length + 1} bytes, but the file of sha256 ${sha256Hex(body)} has ${body.length} \\(a verified entry of the cache, kept\\)`))]);
    expect(requests).toBe(before);
    expect(sha256Hex(await readFile(entry))).toBe(sha256Hex(body));
    expect(await readdir(join(dir, 'o-kept')).catch(() => [])).toEqual([]);
  });
});
