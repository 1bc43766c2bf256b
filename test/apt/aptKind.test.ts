import { appendFile, cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptKind, type AptLock } from '../../src/sources/apt/aptKind.js';
import { SpecError } from '../../src/errors.js';
import { parseSpecText } from '../../src/specfile/loadSpec.js';
import type { BundleInput } from '../../src/sources/kind.js';
import { PACKED_LAYOUT } from '../../src/sources/apt/packedIndex.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { context, fixtureUpstream, materialize } from './aptSetup.js';
import { readPrivate, serveDir, signRelease } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';

/** a spec of one service, mail, installing `apt` from the fixture upstream on amd64 */
const mailSpec = (fx: Awaited<ReturnType<typeof fixtureUpstream>>, apt: string[]) => ({
  targets: { debian: { suite: 'bookworm', architectures: ['amd64'] } },
  upstreams: { apt: [{ uri: fx.server.url, suites: ['fixture'], keyring: fx.upstreamKey.public }] },
  services: { mail: { version: '1', groups: ['mail'], artifacts: { apt } } },
});

const APP_CLOSURE = ['app', 'basefiles', 'bighttpd', 'libbar', 'libfoo', 'newmail', 'prelib', 'pyish'];

describe('apt kind: lock, collect, and the real apt-get', () => {
  let fx: Awaited<ReturnType<typeof fixtureUpstream>>;
  let raw: Record<string, unknown>;
  let lock: AptLock;
  let repoRoot: string;
  let repo: Awaited<ReturnType<typeof serveDir>>;
  let firstFetched: number;
  let firstEntries: BundleInput[];

  beforeAll(async () => {
    fx = await fixtureUpstream();
    raw = {
      targets: { debian: { suite: 'bookworm', architectures: ['amd64'] } },
      upstreams: { apt: [{ uri: fx.server.url, suites: ['fixture'], keyring: fx.upstreamKey.public }] },
      services: {
        web: { version: '1', groups: ['web'], artifacts: { apt: ['app'] } },
        mail: { version: '1', groups: ['mail'], artifacts: { apt: ['oldmail', 'libfoo'] } },
      },
    };
    const ctx = await context(fx.dir, raw, fx.bundleKey.secretArmored);
    lock = (await aptKind.lock(ctx))!;
    const result = await aptKind.collect(lock, ctx);
    firstFetched = ctx.fetchStats!.fetchedBytes;
    firstEntries = result.entries;
    repoRoot = await materialize(result.entries, join(fx.dir, 'bundle-tree'));
    repo = await serveDir(repoRoot);
  });
  afterAll(async () => {
    await fx?.server.close();
    await repo?.close();
  });

  it('pins every package of every service closure with version, URL, size, sha256 and the services that need it', async () => {
    const byName = Object.fromEntries(lock.packages.map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual([...APP_CLOSURE, 'oldmail'].sort());
    expect(byName['libfoo']).toMatchObject({ version: '1.3-1', architecture: 'amd64', services: ['mail', 'web'] });
    expect(byName['oldmail']!.services).toEqual(['mail']);
    expect(byName['prelib']).toMatchObject({ architecture: 'all', services: ['web'] });
    for (const p of lock.packages) {
      const bytes = await readFile(join(fx.upstreamRoot, new URL(p.url).pathname));
      expect(p.url.startsWith(fx.server.url + '/pool/main/')).toBe(true);
      expect(p.size).toBe(bytes.length);
      expect(p.sha256).toBe(sha256Hex(bytes));
    }
    expect(lock.sources).toEqual([{ uri: fx.server.url, suite: 'fixture', signers: [fx.upstreamKey.fingerprint] }]);
  });

  it('publishes a repository that the real apt-get accepts with signed-by the bundle key and installs from', async () => {
    const apt = await privateApt(`deb [signed-by=${fx.bundleKey.public}] ${repo.url}/apt bookworm main`);
    const update = await apt.aptGet('update');
    expect(update.code, update.stdout + update.stderr).toBe(0);
    expect(update.stderr).not.toMatch(/^[WE]:/m);
    const dl = await apt.aptGet('install', '-y', '--download-only', '--no-install-recommends', 'app');
    expect(dl.code, dl.stdout + dl.stderr).toBe(0);
    expect((await apt.downloaded()).map((f) => f.split('_')[0])).toEqual([...APP_CLOSURE].sort());
    // with apt's default (Recommends on) the missing app-docs is skipped, not an error
    const sim = await apt.simulate(['app'], []);
    expect(sim.result.code, sim.result.stderr).toBe(0);
  });

  it('writes Packages, Release with SHA256 of compressed and plain indexes, InRelease and an armored Release.gpg', async () => {
    const dist = join(repoRoot, 'apt/dists/bookworm');
    const release = await readFile(join(dist, 'Release'), 'utf8');
    expect(release).toMatch(/^Suite: bookworm$/m);
    expect(release).toMatch(/^Codename: bookworm$/m);
    expect(release).toMatch(/^Date: Wed, 25 Nov 2026 00:00:00 UTC$/m);
    expect(release).toMatch(/^Architectures: amd64$/m);
    expect(release).toMatch(/^Components: main$/m);
    expect(release).not.toMatch(/Valid-Until/);
    const sums = new Map([...release.matchAll(/^ ([0-9a-f]{64}) +(\d+) (\S+)$/gm)].map((m) => [m[3], `${m[1]} ${m[2]}`]));
    expect([...sums.keys()]).toEqual(['main/binary-amd64/Packages', 'main/binary-amd64/Packages.gz']);
    for (const [f, sum] of sums) {
      const data = await readFile(join(dist, f!));
      expect(sum).toBe(`${sha256Hex(data)} ${data.length}`);
    }
    expect(await readFile(join(dist, 'Release.gpg'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    expect(await readFile(join(dist, 'InRelease'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----/);
    const gz = await readFile(join(dist, 'main/binary-amd64/Packages.gz'));
    expect(gz.readUInt32LE(4)).toBe(0); // no mtime in the gzip header
    expect(gz[3]! & 0x08).toBe(0); // no file name
  });

  it('is deterministic and a second collect downloads nothing', async () => {
    expect(firstFetched).toBeGreaterThanOrEqual(lock.packages.reduce((n, p) => n + p.size, 0));
    const ctx = await context(fx.dir, raw, fx.bundleKey.secretArmored);
    const before = fx.server.requests.length;
    const again = await aptKind.collect(lock, ctx);
    expect(ctx.fetchStats!.fetchedBytes).toBe(0);
    expect(ctx.fetchStats!.cachedFiles).toBe(lock.packages.length);
    expect(fx.server.requests.length).toBe(before);
    for (const e of again.entries.filter((x) => x.kind === 'apt-index')) {
      expect((await readFile(e.file)).equals(await readFile(join(repoRoot, e.path))), e.path).toBe(true);
    }
    // each .deb carries the digest the lock pins: downloaded now, it was hashed as it arrived and is not
    // hashed again; taken from the cache, the pack hashes it (test/apt/bundleEndToEnd.test.ts damages one)
    const debs = (entries: BundleInput[]) => entries.filter((e) => e.kind === 'apt').map((e) => ({ name: e.path.split('/').at(-1)!.split('_')[0], known: e.known, verified: e.verified }));
    const pinned = (verified: boolean) => lock.packages.map((p) => ({ name: p.name, known: { sha256: p.sha256, size: p.size }, verified })).sort((a, b) => a.name.localeCompare(b.name));
    const sorted = (xs: ReturnType<typeof debs>) => xs.sort((a, b) => a.name!.localeCompare(b.name!));
    expect(sorted(debs(firstEntries))).toEqual(pinned(true));
    expect(sorted(debs(again.entries))).toEqual(pinned(false));
  });

  it('adds a Valid-Until only when valid_for_days is set', async () => {
    const ctx = await context(fx.dir, { ...raw, upstreams: { ...(raw.upstreams as object), apt_options: { valid_for_days: 30 } } }, fx.bundleKey.secretArmored);
    const r = await aptKind.collect(lock, ctx);
    const release = await readFile(r.entries.find((e) => e.path === 'apt/dists/bookworm/Release')!.file, 'utf8');
    expect(release).toMatch(/^Valid-Until: Fri, 25 Dec 2026 00:00:00 UTC$/m);
  });

  it('records suite, component, architectures and package versions for the manifest', async () => {
    const ctx = await context(fx.dir, raw, fx.bundleKey.secretArmored);
    const r = await aptKind.collect(lock, ctx);
    expect(r.artifacts).toMatchObject({ suite: 'bookworm', component: 'main', architectures: ['amd64'] });
    expect((r.artifacts as { packages: Array<{ name: string; version: string }> }).packages).toContainEqual({ name: 'libbar', version: '2:0.5', architecture: 'amd64', services: ['mail', 'web'] });
    const kinds = new Set(r.entries.map((e) => `${e.kind} ${e.path.split('/').slice(0, 2).join('/')}`));
    expect(kinds).toEqual(new Set(['apt apt/pool', 'apt-index apt/dists']));
    expect(r.entries.find((e) => e.path.endsWith('/libbar_0.5_amd64.deb'))!.services).toEqual(['mail', 'web']);
  });

  it('a second lock on the same index reads its parsed form from the cache: the Packages file is not downloaded again', async () => {
    const cacheDir = join(fx.dir, 'cache-parsed');
    const first = (await aptKind.lock(await context(fx.dir, raw, fx.bundleKey.secretArmored, cacheDir)))!;
    // without its downloaded Packages.gz, only the parsed form can spare a download
    await rm(join(cacheDir, 'sha256'), { recursive: true, force: true });
    const before = fx.server.requests.length;
    const second = (await aptKind.lock(await context(fx.dir, raw, fx.bundleKey.secretArmored, cacheDir)))!;
    const asked = fx.server.requests.slice(before);
    expect(asked).toEqual(['/dists/fixture/InRelease']); // the signed Release is always fetched and verified
    expect(second).toEqual(first);
    expect(second).toEqual(lock);
  });

  it('does not trust a damaged parsed-index cache entry: a truncated or altered one is read from the index again and rewritten', async () => {
    const cacheDir = join(fx.dir, 'cache-damaged');
    const first = (await aptKind.lock(await context(fx.dir, raw, fx.bundleKey.secretArmored, cacheDir)))!;
    const dir = join(cacheDir, 'apt-parsed', `v${PACKED_LAYOUT}`);
    const [entry] = await readdir(dir);
    const intact = await readFile(join(dir, entry!));
    const altered = Buffer.from(intact);
    altered[altered.length - 3] ^= 0x20; // one letter of the string table: a name or version that the signed index never said
    for (const damaged of [intact.subarray(0, intact.length - 7), altered]) {
      await writeFile(join(dir, entry!), damaged);
      await rm(join(cacheDir, 'sha256'), { recursive: true, force: true });
      const before = fx.server.requests.length;
      const again = (await aptKind.lock(await context(fx.dir, raw, fx.bundleKey.secretArmored, cacheDir)))!;
      expect(fx.server.requests.slice(before).some((r) => /\/Packages(\.gz|\.xz)?$/.test(r))).toBe(true);
      expect(again).toEqual(first);
      expect((await readFile(join(dir, entry!))).equals(intact)).toBe(true);
    }
  });

  it('leaves out what every host has with base: required (Essential and Priority: required, with their dependencies)', async () => {
    const ctx = await context(fx.dir, { ...raw, upstreams: { ...(raw.upstreams as object), apt_options: { base: 'required' } } }, fx.bundleKey.secretArmored);
    const r = (await aptKind.lock(ctx))!;
    const names = r.packages.map((p) => p.name);
    expect(names).not.toContain('basefiles');
    expect(names).toEqual(expect.arrayContaining(['app', 'libfoo', 'libbar']));
  });

  it('also pins what an mmdebstrap rootfs installs from the bundle repository: its variant base and its packages', async () => {
    const ctx = await context(fx.dir, { ...raw, services: {}, rootfs: { base: { mmdebstrap: { variant: 'minbase', packages: ['tinyhttpd'] } } } }, fx.bundleKey.secretArmored);
    const r = (await aptKind.lock(ctx))!;
    expect(r.packages.map((p) => `${p.name} ${p.services.length}`)).toEqual(['basefiles 0', 'tinyhttpd 0']);
  });

  it('makes the real apt refuse a tampered Packages file', async () => {
    const copy = join(fx.dir, 'tampered');
    await cp(repoRoot, copy, { recursive: true });
    const bin = join(copy, 'apt/dists/bookworm/main/binary-amd64');
    await appendFile(join(bin, 'Packages'), '\nPackage: evil\nVersion: 1\nArchitecture: amd64\nFilename: pool/evil.deb\nSize: 1\nSHA256: ' + '0'.repeat(64) + '\n');
    await writeFile(join(bin, 'Packages.gz'), gzipSync(await readFile(join(bin, 'Packages'))));
    const srv = await serveDir(copy);
    try {
      const apt = await privateApt(`deb [signed-by=${fx.bundleKey.public}] ${srv.url}/apt bookworm main`);
      const update = await apt.aptGet('update');
      expect(update.code).not.toBe(0);
      expect(update.stdout + update.stderr).toMatch(/Hash Sum mismatch|unexpected size/);
      expect((await apt.simulate(['evil'])).result.code).not.toBe(0);
    } finally {
      await srv.close();
    }
  });

  it('makes the real apt refuse a Release signed by another key', async () => {
    const copy = join(fx.dir, 'resigned');
    await cp(repoRoot, copy, { recursive: true });
    const dist = join(copy, 'apt/dists/bookworm');
    await signRelease(dist, await readFile(join(dist, 'Release'), 'utf8'), await readPrivate(fx.otherKey.secretArmored));
    const srv = await serveDir(copy);
    try {
      const apt = await privateApt(`deb [signed-by=${fx.bundleKey.public}] ${srv.url}/apt bookworm main`);
      const update = await apt.aptGet('update');
      expect(update.code).not.toBe(0);
      expect(update.stdout + update.stderr).toMatch(/NO_PUBKEY|not signed|signatures couldn't be verified/);
      expect((await apt.simulate(['app'])).result.code).not.toBe(0);
    } finally {
      await srv.close();
    }
  });
});


describe('apt kind errors', () => {
  it('names the service, the architecture and the dependency chain when a closure cannot be satisfied', async () => {
    const fx = await fixtureUpstream();
    try {
      const ctx = await context(fx.dir, {
        targets: { debian: { suite: 'bookworm', architectures: ['amd64'] } },
        upstreams: { apt: [{ uri: fx.server.url, suites: ['fixture'], keyring: fx.upstreamKey.public }] },
        services: { api: { version: '1', groups: ['api'], artifacts: { apt: ['app', 'cli'] } } },
      }, fx.bundleKey.secretArmored);
      await expect(aptKind.lock(ctx)).rejects.toThrow(
        'services.api.artifacts.apt (amd64): cannot satisfy "ghost (>= 3)" needed by cli 2.0 -> middle 2.0 -> leaf 2.0: no package named or providing ghost for amd64 in the configured sources',
      );
    } finally {
      await fx.server.close();
    }
  });

  it('refuses a request name:ARCH for an architecture the targets do not have, as apt-get cannot locate it, instead of locking nothing for it', async () => {
    const fx = await fixtureUpstream();
    try {
      const spec = (apt: string[]) => mailSpec(fx, apt);
      const apt = await privateApt(`deb [signed-by=${fx.upstreamKey.public}] ${fx.server.url} fixture main`);
      expect((await apt.aptGet('update')).code).toBe(0);
      const sim = await apt.simulate(['libbaz:i386']);
      expect(sim.result.code).not.toBe(0);
      expect(sim.result.stdout + sim.result.stderr).toMatch(/Unable to locate package libbaz:i386/);
      await expect(aptKind.lock(await context(fx.dir, spec(['libbaz:i386']), fx.bundleKey.secretArmored))).rejects.toThrow(
        'services.mail.artifacts.apt: libbaz:i386 names the architecture "i386", which is not among targets.debian.architectures (amd64); apt-get could not locate it either',
      );
      const locked = (await aptKind.lock(await context(fx.dir, spec(['libbaz:amd64', 'prelib:all']), fx.bundleKey.secretArmored)))!;
      expect(locked.packages.map((p) => p.name).sort()).toEqual(['libbaz', 'prelib']);
    } finally {
      await fx.server.close();
    }
  });

  it('takes a package named with its suite (name/suite) from that suite, and says which suites have it when the named one does not', async () => {
    const fx = await fixtureUpstream();
    try {
      const spec = (apt: string[]) => mailSpec(fx, apt);
      const locked = (await aptKind.lock(await context(fx.dir, spec(['libfoo/fixture']), fx.bundleKey.secretArmored)))!;
      expect(locked.packages.find((p) => p.name === 'libfoo')?.version).toBe('1.3-1');
      await expect(aptKind.lock(await context(fx.dir, spec(['libfoo/trixie-backports']), fx.bundleKey.secretArmored))).rejects.toThrow(
        'libfoo/trixie-backports: the suite trixie-backports has no libfoo for amd64 (fixture has 1.3-1)',
      );
    } finally {
      await fx.server.close();
    }
  });

  it('refuses name/suite among an mmdebstrap rootfs packages, which apt installs inside it from the bundle repository of one suite', () => {
    const text = (pkg: string) =>
      `name: t\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\ntargets: { debian: { suite: bookworm, architectures: [amd64] } }\nrootfs:\n  base: { mmdebstrap: { packages: ["${pkg}"] } }\nservices:\n  web: { version: 1.0.0, groups: [web], artifacts: { rootfs: [base], apt: ["${pkg}"] } }\n`;
    expect(() => parseSpecText(text('podman/bookworm-backports'), 'spec.yaml')).toThrow(SpecError);
    expect(() => parseSpecText(text('podman/bookworm-backports'), 'spec.yaml')).toThrow(/rootfs\.base\.mmdebstrap\.packages.*name\/suite belongs in a service's artifacts\.apt/);
    expect(parseSpecText(text('podman=4.3.1'), 'spec.yaml').rootfs.base).toBeDefined();
  });
});
