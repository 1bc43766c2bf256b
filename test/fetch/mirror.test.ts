import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../src/fetch/createDispatcher.js';
import { createFetchStats } from '../../src/fetch/createFetchStats.js';
import { fetchBytes } from '../../src/fetch/fetchBytes.js';
import { fetchToCache } from '../../src/fetch/fetchToCache.js';

/**
 * Against the machine's own Debian mirror (read from its apt sources, never written here): runs only
 * when that mirror answers and FERRY_TEST_MIRROR is not 0. The fixture-server tests cover every
 * behaviour; this one shows the same code against a real server (its redirects, headers, ranges).
 */
async function machineMirror(): Promise<{ uri: string; suite: string } | undefined> {
  if (process.env.FERRY_TEST_MIRROR === '0') return undefined;
  const dir = '/etc/apt/sources.list.d';
  const texts = await Promise.all(
    (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.sources')).map((f) => readFile(join(dir, f), 'utf8')),
  );
  for (const stanza of texts.join('\n\n').split(/\n\s*\n/)) {
    const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
    const suite = /^Suites:\s*(\S+)/m.exec(stanza)?.[1];
    if (uri?.startsWith('http') && suite && /^Types:.*\bdeb\b/m.test(stanza)) return { uri: uri.replace(/\/$/, ''), suite };
  }
  return undefined;
}

const mirror = await machineMirror();
const probe = createDispatcher({ maxRetries: 0, idleTimeout: 5_000 });
const inRelease = mirror
  ? await fetchBytes(`${mirror.uri}/dists/${mirror.suite}/InRelease`, { dispatcher: probe, signal: AbortSignal.timeout(8_000) }).then(
      (r) => r.body,
      () => undefined,
    )
  : undefined;
await probe.close();

describe.skipIf(!inRelease)("the machine's Debian mirror", () => {
  const cleanup: string[] = [];
  afterAll(() => Promise.all(cleanup.map((d) => rm(d, { recursive: true, force: true }))));

  it('serves a file listed in InRelease into the cache, verified by its sha256, and the second time from the cache', async () => {
    // the smallest per-component Release file (Release lists some files mirrors do not keep, such as
    // uncompressed indexes), to stay light on the mirror
    const section = inRelease!.toString().split(/^SHA256:\n/m)[1]!.split(/^\S/m)[0]!;
    const [sha256, size, path] = section
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length === 3 && Number(f[1]) > 0 && f[2]!.endsWith('/Release'))
      .sort((a, b) => Number(a[1]) - Number(b[1]))[0]!;
    const cacheDir = await mkdtemp(join(tmpdir(), 'ferry-fetch-mirror-'));
    cleanup.push(cacheDir);
    const req = { url: `${mirror!.uri}/dists/${mirror!.suite}/${path}`, sha256, size: Number(size) };

    const first = createFetchStats();
    const got = await fetchToCache(req, { cacheDir, stats: first });
    expect(got).toMatchObject({ sha256, size: Number(size), fromCache: false });
    expect(first.fetchedBytes).toBe(Number(size));
    const second = createFetchStats();
    expect(await fetchToCache(req, { cacheDir, stats: second })).toMatchObject({ fromCache: true });
    expect(second.fetchedBytes).toBe(0);
  });
});
