import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { writeSpec } from '../rootfs/helpers.js';
import { deltaBombBundle } from './helpers.js';

const COMMIT = 'c0ffee'.padEnd(40, '0');
/** what the server sends at most, so that a ferry that never stops git does not fill the disk: it then fails on the message */
const SAFETY = 256 << 20;

const pkt = (s: string) => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;

/** one pack entry: a blob of 64 KiB (stored, not compressed), unique by its number */
function blobEntry(n: number): Buffer {
  const data = Buffer.alloc(64 << 10);
  data.writeUInt32BE(n, 0);
  const head: number[] = [];
  let size = data.length;
  let byte = (3 << 4) | (size & 15);
  size >>= 4;
  while (size > 0) {
    head.push(byte | 0x80);
    byte = size & 0x7f;
    size >>= 7;
  }
  head.push(byte);
  return Buffer.concat([Buffer.from(head), deflateSync(data, { level: 0 })]);
}

/**
 * A smart-http git upstream (protocol v0) that advertises one branch and answers any fetch with a pack
 * claiming a million objects of 64 KiB (61 GiB) and sending them without end, as fast as git reads.
 */
function endlessPackServer(): { server: Server; fetches: Array<Promise<number>> } {
  /** per fetch: the bytes sent when git's connection closed (or the safety bound was reached) */
  const fetches: Array<Promise<number>> = [];
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.includes('/info/refs')) {
      res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-advertisement', 'cache-control': 'no-cache' });
      res.end(`${pkt('# service=git-upload-pack\n')}0000${pkt(`${COMMIT} refs/heads/main\0ofs-delta\n`)}0000`);
      return;
    }
    let stop!: (sent: number) => void;
    fetches.push(new Promise<number>((r) => (stop = r)));
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result', 'cache-control': 'no-cache' });
      res.write(pkt('NAK\n'));
      const header = Buffer.alloc(12);
      header.write('PACK', 0);
      header.writeUInt32BE(2, 4);
      header.writeUInt32BE(1_000_000, 8);
      res.write(header);
      let sent = 0;
      let n = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        stop(sent);
        res.destroy();
      };
      res.on('close', finish);
      // paced at 1 MiB per 20 ms (~50 MiB/s): ferry looks at the scratch folder every 100 ms, and on a busy
      // machine that look may come late; at this pace it has seconds to find the bound before git could reach
      // the safety bound (or fill the tmpfs), instead of the ~0.2 s an unpaced loopback stream gives it
      let paced = 0;
      const pump = () => {
        while (!done && sent < SAFETY) {
          const e = blobEntry(n++);
          sent += e.length;
          if (!res.write(e)) return void res.once('drain', pump);
          if (sent - paced >= 1 << 20) {
            paced = sent;
            return void setTimeout(pump, 20);
          }
        }
        finish();
      };
      pump();
    });
  });
  return { server, fetches };
}

describe('git fetch at build is bounded like a download', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  let upstream: ReturnType<typeof endlessPackServer>;
  let url: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-git-fetch-bound-'));
    key = await writeKey(dir, 'team');
    upstream = endlessPackServer();
    await new Promise<void>((r) => upstream.server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}/repo.git`;
  });
  afterAll(async () => {
    upstream.server.closeAllConnections();
    await new Promise((r) => upstream.server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const lockedSpec = async (name: string) => {
    const spec = await writeSpec(
      dir,
      `services:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      git:\n        - { url: "${url}", ref: ${COMMIT}, depth: 0, name: app }\n`,
      name,
    );
    const lock = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(lock.code, lock.stderr).toBe(0);
    return spec;
  };

  it('stops git receiving an endless pack when the scratch file system would drop under FERRY_CACHE_RESERVE: exit 69, one line, nothing kept (a tmpfs of 256 MiB, mount needs root)', async (ctx) => {
    const small = join(dir, 'small');
    await mkdir(small);
    if (process.getuid?.() !== 0 || (await run('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', small])).code !== 0) return ctx.skip();
    try {
      const spec = await lockedSpec('reserve');
      const out = join(dir, 'out-reserve');
      const env = { FERRY_CACHE_RESERVE: '192M', TMPDIR: small };
      const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')], { env });
      expect(b.code, b.stderr).toBe(69);
      const lines = b.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^ferry: ${url.replace(/\./g, '\\.')}: git fetch left \\d+ bytes free on the scratch file system \\(${small}/ferry-build-[^)]*\\), less than the 201326592-byte reserve; ferry stopped it and kept nothing\\. Free space there or lower FERRY_CACHE_RESERVE$`));
      expect(await upstream.fetches.at(-1)).toBeLessThan(SAFETY);
      expect(await readdir(out).catch(() => [])).toEqual([]);
      expect(await readdir(small)).toEqual([]);
    } finally {
      await run('umount', [small]);
    }
  });

  it('stops git receiving an endless pack past FERRY_MAX_DOWNLOAD: exit 69, one line, nothing of it kept', async () => {
    const spec = await writeSpec(
      dir,
      `services:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      git:\n        - { url: "${url}", ref: ${COMMIT}, depth: 0, name: app }\n`,
      'endless',
    );
    const lock = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(lock.code, lock.stderr).toBe(0);
    const out = join(dir, 'out');
    // the build's work folder (and the scratch repository git fetches into) under a TMPDIR of the test's own
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    const env = { FERRY_MAX_DOWNLOAD: '4M', FERRY_CACHE_RESERVE: '0', TMPDIR: tmp };
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')], { env });
    expect(b.code, b.stderr).toBe(69);
    expect(b.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
      `ferry: ${url}: git fetch received more than 4194304 bytes (FERRY_MAX_DOWNLOAD); ferry stopped it and kept nothing. Check the URL, pin a shallower depth, or raise FERRY_MAX_DOWNLOAD`,
    ]);
    // git (and its remote helper) are gone: the server saw its connection closed, short of its safety bound
    expect(await upstream.fetches.at(-1)).toBeLessThan(SAFETY);
    expect(await readdir(out).catch(() => [])).toEqual([]);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('refuses an upstream pack of a few hundred bytes whose one delta states 1.25 GiB (exit 69, one line, nothing kept), rather than let git allocate and fill it on the build machine', async () => {
    // the helper's git bundle: its pack after the header's blank line, served as a fetch's answer
    const bomb = deltaBombBundle(1280 << 20);
    const pack = bomb.data.subarray(bomb.data.indexOf('\n\n') + 2);
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.includes('/info/refs')) {
        res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-advertisement', 'cache-control': 'no-cache' });
        res.end(`${pkt('# service=git-upload-pack\n')}0000${pkt(`${bomb.commit} refs/heads/main\0ofs-delta\n`)}0000`);
        return;
      }
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result', 'cache-control': 'no-cache' });
        res.end(Buffer.concat([Buffer.from(pkt('NAK\n')), pack]));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const bombUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bomb.git`;
      const spec = await writeSpec(dir, `services:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      git:\n        - { url: "${bombUrl}", ref: ${bomb.commit}, depth: 0, name: app }\n`, 'bomb');
      expect((await ferry(['lock', spec, '--cache', join(dir, 'cache')])).code).toBe(0);
      const out = join(dir, 'out-bomb');
      const tmp = join(dir, 'tmp-bomb');
      await mkdir(tmp);
      const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')], { env: { TMPDIR: tmp } });
      expect(b.code, b.stderr).toBe(69);
      const lines = b.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'));
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^ferry: cannot fetch commit ${bomb.commit} \\(ref ${bomb.commit}\\) from ${bombUrl.replace(/\./g, '\\.')}: .*over limit`))]);
      expect(await readdir(out).catch(() => [])).toEqual([]);
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
