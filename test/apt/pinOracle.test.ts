import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackageIndex, type PackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { loadAptBase } from '../../src/sources/apt/loadAptBase.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { releasePin } from '../../src/sources/apt/readUpstreamIndexes.js';
import { resolveAptClosure, type InstalledPackage } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, signRelease, writeUpstream, type FixtureDeb } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';

/**
 * The oracle for suites whose Release says `NotAutomatic: yes` (backports, experimental) and
 * `ButAutomaticUpgrades: yes`: apt gives their versions pin priority 1 (100), so a lower version of
 * a normal suite (500) stays the candidate, and an installed version (100) is not upgraded from a
 * NotAutomatic suite but is from a ButAutomaticUpgrades one.
 */
const MAIN: FixtureDeb[] = [
  { name: 'both', version: '1' },
  { name: 'uses-both', version: '1', depends: 'both' },
  { name: 'inst-na', version: '1' },
  { name: 'inst-bau', version: '1' },
];
const NA: FixtureDeb[] = [
  { name: 'both', version: '2', depends: 'na-only' },
  { name: 'na-only', version: '1' },
  { name: 'inst-na', version: '2' },
  { name: 'only-na', version: '2' },
];
const BAU: FixtureDeb[] = [
  { name: 'inst-bau', version: '2' },
  { name: 'only-bau', version: '2' },
];

const STATUS = ['inst-na', 'inst-bau', 'only-na', 'only-bau']
  .map((n) => `Package: ${n}\nStatus: install ok installed\nPriority: optional\nMaintainer: T <t@example.invalid>\nArchitecture: amd64\nVersion: 1\nDescription: installed ${n}\n`)
  .join('\n');

function installs(stdout: string): string[] {
  return [...stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]!.replace(/:\S+$/, '')} ${m[2]}`).sort();
}

describe('NotAutomatic and ButAutomaticUpgrades suites: ferry picks the candidate apt-get picks', () => {
  const servers: Array<Awaited<ReturnType<typeof serveDir>>> = [];
  let index: PackageIndex;
  let empty: Awaited<ReturnType<typeof privateApt>>;
  let withBase: Awaited<ReturnType<typeof privateApt>>;
  let base: Map<string, InstalledPackage>;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-apt-pin-'));
    const key = await writeKey(dir, 'upstream');
    const priv = await readPrivate(key.secretArmored);
    const lines: string[] = [];
    const packages: AptPackage[] = [];
    for (const [suite, debs, extra] of [
      ['main', MAIN, ''],
      ['na', NA, 'NotAutomatic: yes\n'],
      ['bau', BAU, 'NotAutomatic: yes\nButAutomaticUpgrades: yes\n'],
    ] as const) {
      const files: string[] = [];
      for (const d of debs) files.push(await buildDeb(join(dir, suite), d));
      const root = join(dir, `up-${suite}`);
      await writeUpstream(root, files, { suite, key: priv });
      if (extra) {
        const rel = await readFile(join(root, 'dists', suite, 'Release'), 'utf8');
        await signRelease(join(root, 'dists', suite), extra + rel, priv);
      }
      const server = await serveDir(root);
      servers.push(server);
      lines.push(`deb [signed-by=${key.public}] ${server.url} ${suite} main`);
      const fields = new Map((await readFile(join(root, 'dists', suite, 'Release'), 'utf8')).split('\n').filter((l) => /^\S+: /.test(l)).map((l) => l.split(': ', 2) as [string, string]));
      const origin = { uri: server.url, suite, component: 'main', pin: releasePin(fields) };
      const gz = join(root, 'dists', suite, 'main/binary-amd64/Packages.gz');
      for await (const p of readPackagesIndex(createReadStream(gz).pipe(createGunzip()), origin, gz)) packages.push(p);
    }
    index = buildPackageIndex(packages, 'amd64');
    empty = await privateApt(lines.join('\n'));
    withBase = await privateApt(lines.join('\n'));
    await writeFile(join(withBase.root, 'var/lib/dpkg/status'), STATUS);
    await writeFile(join(dir, 'status'), STATUS);
    base = await loadAptBase(index, { status: 'status' }, dir);
    for (const apt of [empty, withBase]) {
      const u = await apt.aptGet('update');
      expect(u.code, u.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  const ours = (set: string[], installed: ReadonlyMap<string, InstalledPackage> = new Map()) =>
    resolveAptClosure(index, set, { recommends: false, installed }).map((p) => `${p.name} ${p.version}`).sort();

  it.each([['uses-both'], ['both'], ['na-only']])('%s on an empty system', async (name) => {
    const sim = await empty.aptGet('install', '--simulate', '--no-install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours([name])).toEqual(installs(sim.stdout));
  });

  it.each([['inst-na'], ['inst-bau'], ['only-na'], ['only-bau']])('%s on hosts that have version 1', async (name) => {
    const sim = await withBase.aptGet('install', '--simulate', '--no-install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    const theirs = installs(sim.stdout);
    // apt-get prints nothing for "already the newest version"; ferry carries a requested package anyway
    expect(ours([name], base).filter((p) => theirs.length > 0 || p !== `${name} 1`)).toEqual(theirs);
  });

  it('the pins decide', () => {
    expect(ours(['uses-both'])).toEqual(['both 1', 'uses-both 1']); // not both 2 of the NotAutomatic suite
    expect(ours(['inst-na'], base)).toEqual(['inst-na 1']);
    expect(ours(['inst-bau'], base)).toEqual(['inst-bau 1']); // main's 1 (500) before ButAutomaticUpgrades' 2 (100)
    expect(ours(['only-na'], base)).toEqual([]); // installed (100) before NotAutomatic (1): no upgrade, nothing to carry
    expect(ours(['only-bau'], base)).toEqual(['only-bau 2']); // installed and ButAutomaticUpgrades tie at 100: the newer
  });
});
