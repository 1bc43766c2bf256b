import { spawn } from 'node:child_process';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptKind } from '../../src/sources/apt/aptKind.js';
import { buildPackageIndex, type PackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { resolveAptClosure } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { run } from '../helpers/cli.js';
import { context, fixtureUpstream } from './aptSetup.js';
import { privateApt } from './privateApt.js';
import { REAL_SETS } from './realSets.js';

// Each set is resolved by ferry and by `apt-get install --simulate --no-install-recommends` on an
// empty dpkg status with the same indexes; the chosen packages and versions must be the same.
const FIXTURE_SETS = [['app'], ['tinyhttpd', 'app'], ['libfoo'], ['libbaz', 'libfoo'], ['oldmail', 'newmail', 'prelib'], ['pyish', 'app']];

describe('resolver agrees with apt-get on the fixture archive', () => {
  let fx: Awaited<ReturnType<typeof fixtureUpstream>>;
  let apt: Awaited<ReturnType<typeof privateApt>>;
  beforeAll(async () => {
    fx = await fixtureUpstream();
    apt = await privateApt(`deb [signed-by=${fx.upstreamKey.public}] ${fx.server.url} fixture main`);
    const u = await apt.aptGet('update');
    expect(u.code, u.stderr).toBe(0);
  });
  afterAll(() => fx?.server.close());

  it.each(FIXTURE_SETS.map((s) => [s.join(' '), s]))('%s', async (_label, set) => {
    const ctx = await context(fx.dir, {
      targets: { debian: { suite: 'bookworm', architectures: ['amd64'] } },
      upstreams: { apt: [{ uri: fx.server.url, suites: ['fixture'], keyring: fx.upstreamKey.public }] },
      services: { s: { version: '1', groups: ['g'], artifacts: { apt: set } } },
    }, fx.bundleKey.secretArmored);
    const lock = (await aptKind.lock(ctx))!;
    const sim = await apt.simulate(set as string[]);
    expect(sim.result.code, sim.result.stderr).toBe(0);
    expect(lock.packages.map((p) => `${p.name} ${p.version}`).sort()).toEqual(sim.installs);
  });
});

// The machine's own apt lists (after `apt-get update`) hold Debian's real Packages indexes, about
// 60,000 packages: used offline, read-only, with a private dpkg status and cache.
const machineLists = await run('apt-get', ['indextargets', '--format', '$(FILENAME)', 'Created-By: Packages', `Architecture: amd64`]).then(
  (r) => (r.code === 0 ? r.stdout.split('\n').filter((l) => l.startsWith('/')) : []),
  () => [] as string[],
);

describe.skipIf(machineLists.length === 0)("resolver agrees with apt-get on the machine's real Debian index", () => {
  let index: PackageIndex;
  let simulate: (pkgs: string[], recommends?: boolean) => Promise<string[]>;
  beforeAll(async () => {
    const all: AptPackage[] = [];
    for (const file of machineLists) {
      // apt-helper cat-file decompresses whatever format apt stored the list in (.lz4, .zst, plain...)
      const child = spawn('/usr/lib/apt/apt-helper', ['cat-file', file], { stdio: ['ignore', 'pipe', 'inherit'] });
      for await (const p of readPackagesIndex(child.stdout, { uri: 'machine', suite: file, component: 'main' }, file)) all.push(p);
    }
    index = buildPackageIndex(all, 'amd64');
    const dir = await mkdtemp(join(tmpdir(), 'ferry-apt-sim-'));
    await mkdir(join(dir, 'cache'));
    await writeFile(join(dir, 'status'), '');
    simulate = async (pkgs, recommends = false) => {
      const r = await run('apt-get', [
        '-q', '-o', 'Debug::NoLocking=1', '-o', `Dir::State::status=${dir}/status`, '-o', `Dir::Cache=${dir}/cache`,
        '-o', `Dir::Cache::pkgcache=${dir}/cache/pkgcache.bin`, '-o', `Dir::Cache::srcpkgcache=${dir}/cache/srcpkgcache.bin`,
        '-o', 'APT::Architecture=amd64', '-o', 'APT::Architectures::=amd64', 'install', '--simulate', recommends ? '--install-recommends' : '--no-install-recommends', ...pkgs,
      ], { env: { LC_ALL: 'C' } });
      expect(r.code, r.stderr).toBe(0);
      return [...r.stdout.matchAll(/^Inst (\S+) \((\S+)/gm)].map((m) => `${m[1]!.replace(/:\S+$/, '')} ${m[2]}`).sort();
    };
  });

  it.each(REAL_SETS.map((s) => [s.join(' '), s]))('%s', async (_label, set) => {
    const ours = resolveAptClosure(index, set as string[], { recommends: false, installed: new Map() }).map((p) => `${p.name} ${p.version}`).sort();
    expect(ours.length).toBeGreaterThan(5);
    expect(ours).toEqual(await simulate(set as string[]));
  });

  it.each([['nginx-light', 'python3-venv'], ['openssh-server']].map((s) => [s.join(' '), s]))('%s with Recommends', async (_label, set) => {
    const ours = resolveAptClosure(index, set as string[], { recommends: true, installed: new Map() }).map((p) => `${p.name} ${p.version}`).sort();
    const without = resolveAptClosure(index, set as string[], { recommends: false, installed: new Map() });
    expect(ours.length).toBeGreaterThan(without.length);
    expect(ours).toEqual(await simulate(set as string[], true));
  });
});
