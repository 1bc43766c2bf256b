import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, type RunResult } from '../helpers/cli.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { listCache } from './helpers.js';

/** what the endless body sends at most before the server cuts it: a safety net, so a ferry without bounds fails the test instead of filling this disk */
const SAFETY_CAP = 512 << 20;

/**
 * Upstreams that never finish a body: one that streams without end (announced length or none) and one
 * that trickles a byte at a time, each just inside the idle timeout. `ferry lock` of a `files` URL (no
 * size known in advance) must end with one line and exit 69, and leave no partial download in the cache.
 */
describe('bodies that never end', () => {
  let server: Server;
  let base: string;
  let dir: string;
  /** bytes the endless routes wrote, by route */
  const sent: Record<string, number> = {};

  function endless(res: ServerResponse, route: string, headers: Record<string, string>) {
    res.writeHead(200, { etag: '"endless"', ...headers });
    const block = Buffer.alloc(1 << 20, 0x61);
    sent[route] = 0;
    const pump = () => {
      while (!res.destroyed) {
        if (sent[route]! >= SAFETY_CAP) return res.destroy();
        sent[route]! += block.length;
        if (!res.write(block)) return res.once('drain', pump);
      }
    };
    pump();
  }

  function trickle(req: IncomingMessage, res: ServerResponse) {
    res.writeHead(200, { etag: '"slow"' });
    const timer = setInterval(() => res.write('x'), 20);
    const stop = () => clearInterval(timer);
    res.on('close', stop);
    req.on('close', stop);
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/endless.tar') endless(res, 'endless', {});
      else if (req.url === '/announced.tar') endless(res, 'announced', { 'content-length': String(64 * 1024 ** 3) });
      else if (req.url === '/slow.tar') trickle(req, res);
      else if (req.url === '/small.txt') res.end('small\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-bodies-'));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  async function lockFile(name: string, path: string, env: Record<string, string>): Promise<{ r: RunResult; cache: string }> {
    const sub = join(dir, name);
    const cache = join(sub, 'cache');
    await rm(sub, { recursive: true, force: true });
    await mkdir(sub, { recursive: true });
    const spec = join(sub, 'spec.yaml');
    await writeFile(spec, `name: h\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  s:\n    version: "1"\n    groups: [g]\n    artifacts:\n      files: [{ src: "${base}${path}", sha256: "${path === '/small.txt' ? sha256Hex(Buffer.from('small\n')) : 'ab'.repeat(32)}" }]\n`);
    const r = await ferry(['lock', spec, '--cache', cache], { env });
    return { r, cache };
  }

  function expectOneLine(r: RunResult, code: number, pattern: RegExp) {
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr.endsWith('\n'), r.stderr).toBe(true);
    expect(r.stderr.slice(0, -1).split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
  }

  it('refuses an endless body of no announced length at the bound for downloads of unknown size (exit 69, one line), and keeps no partial', async () => {
    const { r, cache } = await lockFile('endless', '/endless.tar', { FERRY_MAX_DOWNLOAD: '4M' });
    expectOneLine(r, 69, /^ferry: http:\/\/127\.0\.0\.1:\d+\/endless\.tar: the body runs past 4194304 bytes .*FERRY_MAX_DOWNLOAD/);
    expect(sent.endless).toBeLessThan(SAFETY_CAP);
    expect(await listCache(cache)).toEqual([]);
  });

  it('refuses a body that announces more than the bound before reading it (exit 69, one line), and keeps nothing', async () => {
    const { r, cache } = await lockFile('announced', '/announced.tar', { FERRY_MAX_DOWNLOAD: '4M' });
    expectOneLine(r, 69, /^ferry: http:\/\/127\.0\.0\.1:\d+\/announced\.tar: the body runs past 4194304 bytes \(68719476736 bytes or more\)/);
    expect(sent.announced).toBeLessThan(SAFETY_CAP);
    expect(await listCache(cache)).toEqual([]);
  });

  it('refuses to write a download into a cache whose file system has less free space than the reserve (exit 69, one line), and keeps nothing', async () => {
    const { r, cache } = await lockFile('reserve', '/endless.tar', { FERRY_CACHE_RESERVE: '1000T' });
    expectOneLine(r, 69, /^ferry: http:\/\/127\.0\.0\.1:\d+\/endless\.tar: the cache's file system \(.*\) has \d+ bytes free, less than the 1099511627776000-byte reserve/);
    expect(await listCache(cache)).toEqual([]);
    // the default bound leaves an ordinary download alone
    const ok = await lockFile('small', '/small.txt', {});
    expect(ok.r.code, ok.r.stderr).toBe(0);
  });

  it('stops a body trickled slower than the low-speed limit (exit 69, one line)', async () => {
    const { r } = await lockFile('slow', '/slow.tar', { FERRY_LOW_SPEED_LIMIT: '1M', FERRY_LOW_SPEED_TIME: '0.5' });
    expectOneLine(r, 69, /^ferry: http:\/\/127\.0\.0\.1:\d+\/slow\.tar: the server sent \d+ bytes in [\d.]+ s, below the 1048576 bytes\/s over 0\.5 s a download must keep up/);
  }, 60_000);

  it('refuses a low-speed time that is not a number of seconds (exit 64, one line)', async () => {
    const { r } = await lockFile('badenv', '/small.txt', { FERRY_LOW_SPEED_TIME: 'soon' });
    expectOneLine(r, 64, /^ferry: FERRY_LOW_SPEED_TIME "soon" is not a positive number of seconds/);
  });
});
