import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchToCache } from '../../src/fetch/fetchToCache.js';
import { bytes } from './fixtureServer.js';
import { listCache, sha, useFetchWorld } from './helpers.js';

const w = useFetchWorld();

/**
 * Two builds sharing one cache are simulated inside one process by reaching the same folder under two
 * names (a symlink): the in-process de-duplication keys on the name, so both downloads really run.
 */
async function secondName(cacheDir: string): Promise<string> {
  const link = `${cacheDir}-link`;
  await symlink(cacheDir, link);
  return link;
}

describe('a cache shared by two builds at once', () => {
  it('both get the file, whether its sha256 is known or not, and the cache holds it once', async () => {
    const data = bytes(160_000, 21);
    const digest = w.server.put('/shared.deb', data);
    w.server.fault('/shared.deb', { trickleMs: 15 });
    const other = await secondName(w.cacheDir);
    for (const req of [{ url: w.server.url('/shared.deb') }, { url: w.server.url('/shared.deb'), sha256: digest }]) {
      const [a, b] = await Promise.all([
        fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.retrying }),
        fetchToCache(req, { cacheDir: other, dispatcher: w.retrying }),
      ]);
      expect([a.sha256, b.sha256]).toEqual([digest, digest]);
      expect(sha(await readFile(a.path))).toBe(digest);
      expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
      await rm(a.path);
    }
  });

  it('lets only one of them resume a partial at rest; the other starts its own', async () => {
    const data = bytes(160_000, 22);
    const digest = w.server.put('/rest.deb', data);
    await mkdir(join(w.cacheDir, 'partial', digest), { recursive: true });
    await writeFile(join(w.cacheDir, 'partial', digest, 'data'), data.subarray(0, 60_000));
    w.server.fault('/rest.deb', { trickleMs: 15 });
    const other = await secondName(w.cacheDir);
    const req = { url: w.server.url('/rest.deb'), sha256: digest };
    const [a, b] = await Promise.all([
      fetchToCache(req, { cacheDir: w.cacheDir, dispatcher: w.retrying }),
      fetchToCache(req, { cacheDir: other, dispatcher: w.retrying }),
    ]);
    expect([a.fetchedBytes, b.fetchedBytes].sort((x, y) => x - y)).toEqual([100_000, 160_000]);
    expect(w.server.requestsFor('/rest.deb').map((r) => r.range ?? 'whole').sort()).toEqual(['bytes=60000-', 'whole']);
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
  });

  it('adopts the partial of a build that was killed (its process is gone) and resumes it', async () => {
    const data = bytes(90_000, 23);
    const digest = w.server.put('/killed.deb', data);
    const deadPid = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
    const orphan = join(w.cacheDir, 'partial', `${digest}~${hostname()}~${deadPid}~0000`);
    await mkdir(orphan, { recursive: true });
    await writeFile(join(orphan, 'data'), data.subarray(0, 50_000));
    const got = await fetchToCache({ url: w.server.url('/killed.deb'), sha256: digest }, { cacheDir: w.cacheDir, dispatcher: w.retrying });
    expect(got.fetchedBytes).toBe(40_000);
    expect(w.server.requestsFor('/killed.deb')[0]!.range).toBe('bytes=50000-');
    expect(await listCache(w.cacheDir)).toEqual([`sha256/${digest}`]);
  });
});
