import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { writeSpec } from '../rootfs/helpers.js';
import { makeUpstream } from './helpers.js';

const service = (ref: string, url: string) =>
  `services:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      git:\n        - { url: "${url}", ref: "${ref}", name: app }\n`;

/**
 * `git ls-remote` of an upstream that advertises refs without end is read as it comes and never past
 * FERRY_MAX_REF_LISTING: the lock is refused in one line (exit 69) instead of holding the listing in memory.
 */
describe('the ref listing of a git upstream is bounded', () => {
  let dir: string;
  let upstream: string;
  let commits: string[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-git-refs-'));
    upstream = join(dir, 'upstream');
    ({ commits } = await makeUpstream(upstream));
    // 2,000 refs under refs/changes (as a code review server keeps them), about 150 KB of listing
    const lines = Array.from({ length: 2000 }, (_, i) => `create refs/changes/${i % 100}/${i}/1 ${commits[i % 5]}\n`).join('');
    const r = await run('git', ['-C', upstream, 'update-ref', '--stdin'], { input: lines });
    if (r.code !== 0) throw new Error(r.stderr);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuses a listing over the bound in one line (exit 69); a tag or branch lists only tags and branches, so the bound does not count the other refs', async () => {
    const env = { FERRY_MAX_REF_LISTING: '64K' };
    const full = await writeSpec(dir, service('refs/changes/7/7/1', upstream), 'refs-full');
    const r = await ferry(['lock', full, '--cache', join(dir, 'cache')], { env });
    expect(r.code, r.stderr).toBe(69);
    expect(r.stderr.trim().split('\n')).toEqual([`ferry: ${upstream} lists more than 65536 bytes of refs; ferry stopped reading there. Check the URL, give the ref as a 40-hex commit id, or raise FERRY_MAX_REF_LISTING`]);
    const tag = await writeSpec(dir, service('v1.0', upstream), 'refs-tag');
    const t = await ferry(['lock', tag, '--cache', join(dir, 'cache')], { env });
    expect(t.code, t.stderr).toBe(0);
    expect(await readFile(join(dir, 'spec.lock.json'), 'utf8')).toContain(commits[2]);
    const big = await ferry(['lock', full, '--cache', join(dir, 'cache')]);
    expect(big.code, big.stderr).toBe(0);
    expect(await readFile(join(dir, 'spec.lock.json'), 'utf8')).toContain(commits[7 % 5]);
  });
});

/** An http(s) git upstream that trickles its ref advertisement a byte at a time, forever. */
describe('a git upstream over http that trickles', () => {
  it('is stopped by the low-speed limit (git runs with it as GIT_HTTP_LOW_SPEED_*): one line, exit 69', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-git-trickle-'));
    const timers = new Set<NodeJS.Timeout>();
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-advertisement', 'cache-control': 'no-cache' });
      const timer = setInterval(() => res.write('0'), 50);
      timers.add(timer);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/app.git`;
      const spec = await writeSpec(dir, service('main', url), 'trickle');
      const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env: { FERRY_LOW_SPEED_LIMIT: '1M', FERRY_LOW_SPEED_TIME: '1' } });
      expect(r.code, r.stderr).toBe(69);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^ferry: cannot list the refs of ${url}: .*too slow`, 'i'));
    } finally {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
