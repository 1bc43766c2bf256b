import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, sha256OfFile, writeUpstream } from './fixtureUpstream.js';
import { writeAptSpec } from './aptSetup.js';

type LockedDeb = { name: string; version: string; architecture: string; url: string; size: number; sha256: string; priority?: string; services: string[] };

/**
 * A lock is hostile input: build --locked takes a .deb only when a Packages index of the spec's upstream
 * suites, proven by their signed Release, lists it (name, version, architecture, URL, size, sha256). A file
 * that merely sits in the upstream's pool (an old version no index lists, another suite's version) is
 * refused with one line and exit 67, before it is downloaded, and no bundle is written.
 */
describe('build --locked takes only .debs the signed indexes of the spec\'s suites list', () => {
  let dir: string;
  let root: string;
  let server: Awaited<ReturnType<typeof serveDir>>;
  let spec: string;
  let lockFile: string;
  let good: { kinds: { apt: { packages: LockedDeb[] } } };
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  let upstreamKey: Awaited<ReturnType<typeof writeKey>>;
  /** hello 0.9 (in the pool, in no index) and 2.0 (listed by suite `other` only) */
  let old: string;
  let newer: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-locked-in-index-${process.pid}-`));
    upstreamKey = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    root = join(dir, 'upstream');
    const key = await readPrivate(upstreamKey.secretArmored);
    // suite fixture lists hello 1.0; suite other (written after, indexing the whole pool) lists 1.0 and 2.0
    await writeUpstream(root, [await buildDeb(join(dir, 'a'), { name: 'hello', version: '1.0' })], { suite: 'fixture', key });
    newer = await buildDeb(join(dir, 'b'), { name: 'hello', version: '2.0' });
    await writeUpstream(root, [newer], { suite: 'other', key });
    // and an old version in the pool that no index lists any more
    old = await buildDeb(join(dir, 'c'), { name: 'hello', version: '0.9' });
    await copyFile(old, join(root, 'pool/main/hello_0.9_amd64.deb'));
    server = await serveDir(root);
    spec = await writeAptSpec(dir, server.url, 'hello');
    await writeFile(join(dir, 'upstream.asc'), upstreamKey.publicArmored);
    lockFile = join(dir, 'aptdemo.lock.json');
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    good = JSON.parse(await readFile(lockFile, 'utf8'));
    expect(good.kinds.apt.packages.map((p) => `${p.name} ${p.version}`)).toEqual(['hello 1.0']);
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const build = async (lock: object, cache = 'cache') => {
    await writeFile(lockFile, JSON.stringify(lock, null, 2));
    const out = await mkdtemp(join(dir, 'out-'));
    // the build's own TMPDIR: its work folder (the published repository, signed) must be gone after a refusal too
    const tmp = await mkdtemp(join(dir, 'tmp-'));
    const r = await ferry(['build', spec, '--locked', '--key', bundleKey.secret, '--out', out, '--cache', join(dir, cache)], { env: { TMPDIR: tmp } });
    return { ...r, out: await readdir(out), tmp: await readdir(tmp) };
  };
  const pinning = async (deb: string, version: string) => {
    const lock = structuredClone(good);
    const [p] = lock.kinds.apt.packages;
    const name = `hello_${version}_amd64.deb`;
    lock.kinds.apt.packages = [{ ...p!, version, url: p!.url.replace(/[^/]+$/, name), sha256: await sha256OfFile(deb), size: (await readFile(deb)).length }];
    return { lock, path: `/pool/main/${name}` };
  };
  const expectRefused = (r: Awaited<ReturnType<typeof build>>, version: string) => {
    expect(r.code, r.stderr).toBe(67);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines, r.stderr).toEqual([
      expect.stringMatching(new RegExp(`^ferry: http://127\\.0\\.0\\.1:\\d+/pool/main/hello_${version.replace('.', '\\.')}_amd64\\.deb: the lock pins hello ${version.replace('.', '\\.')} amd64 \\(sha256 [0-9a-f]{64}, \\d+ bytes\\), but no signed Packages index of the spec's upstreams lists that file; run ferry lock again and review the diff$`)),
    ]);
    expect(r.out).toEqual([]);
    expect(r.tmp).toEqual([]);
  };

  it('builds the lock as ferry lock wrote it', async () => {
    const r = await build(good);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out).toEqual(['aptdemo-1.0.0.ferry']);
  });

  it('refuses a lock edited to pin a .deb of the pool that no index lists (exit 67, one line, not downloaded, no bundle)', async () => {
    const { lock, path } = await pinning(old, '0.9');
    const before = server.requests.length;
    expectRefused(await build(lock), '0.9');
    // the warm cache's Release did not list it, so the upstream's was read again; the .deb was never fetched
    expect(server.requests.slice(before)).not.toContain(path);
    expect(server.requests.slice(before)).toContain('/dists/fixture/InRelease');
  });

  it('refuses a lock edited to pin a version another suite of the same upstream lists, but not the spec\'s suite', async () => {
    const { lock, path } = await pinning(newer, '2.0');
    const before = server.requests.length;
    expectRefused(await build(lock, 'cache-cold'), '2.0');
    expect(server.requests.slice(before)).not.toContain(path);
  });

  it('refuses a lock that pins a listed file with another Priority than its stanza (which the bundle\'s index would carry)', async () => {
    const [p] = good.kinds.apt.packages;
    const other = (edit: Partial<LockedDeb>) => ({ ...good, kinds: { ...good.kinds, apt: { ...good.kinds.apt, packages: [{ ...p!, ...edit }] } } });
    const r = await build(other({ priority: 'required' }));
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr).toMatch(/^ferry: .*hello_1\.0_amd64\.deb: the lock pins hello 1\.0 amd64 .* no signed Packages index/m);
    expect(r.out).toEqual([]);
    expect(r.tmp).toEqual([]);
  });

  it('builds from a cache whose kept Release is older than the lock: the upstream\'s is read again', async () => {
    // the upstream moves on (suite fixture is indexed again: its whole pool, hello 2.0 among it), a lock
    // made elsewhere pins 2.0; this machine's cache still holds the earlier Release of suite fixture
    await writeUpstream(root, [], { suite: 'fixture', key: await readPrivate(upstreamKey.secretArmored) });
    const { lock } = await pinning(newer, '2.0');
    const before = server.requests.length;
    const r = await build(lock);
    expect(r.code, r.stderr).toBe(0);
    expect(server.requests.slice(before)).toContain('/dists/fixture/InRelease');
    expect(r.out).toEqual(['aptdemo-1.0.0.ferry']);
  });
});
