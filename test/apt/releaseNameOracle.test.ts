import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackageIndex, type PackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { releaseOrigin } from '../../src/sources/apt/readUpstreamIndexes.js';
import { resolveAptClosure } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { run } from '../helpers/cli.js';
import { privateApt } from './privateApt.js';
import { simulatedInstalls } from './suitesFixture.js';

/**
 * apt-get's `pkg/release` names a release by its Release's Suite or Codename (in any case, a shell pattern
 * too), or its Version when it starts with a digit, not by the
 * folder under dists/ that sources.list (and upstreams.apt) names: here dists/main is Suite stable,
 * Codename bookworm, and dists/extra (NotAutomatic, ButAutomaticUpgrades, as Debian's backports) Suite
 * stable-backports, Codename bookworm-backports. ferry's `name/suite` must take and refuse what apt-get does.
 */
const stanza = (name: string, version: string, extra = '') =>
  `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: T <t@example.invalid>\nPriority: optional\n${extra}Description: x\n`;
const DISTS = [
  ['main', 'Suite: stable\nCodename: bookworm\nVersion: 12.4\n', '', [stanza('sw', '1'), stanza('swuser', '1', 'Depends: swdep (>= 1)\n'), stanza('swdep', '1')]],
  ['extra', 'Suite: stable-backports\nCodename: bookworm-backports\nVersion: 12\n', 'NotAutomatic: yes\nButAutomaticUpgrades: yes\n', [stanza('sw', '2'), stanza('swuser', '2', 'Depends: swdep (>= 2)\n'), stanza('swdep', '2')]],
] as const;

const TAKEN = [
  ['sw'], ['sw/stable-backports'], ['sw/bookworm-backports'], ['sw/Bookworm-Backports'], ['sw/stable'], ['sw/bookworm'], ['swuser/bookworm-backports'],
  // a release that starts with a digit is the Release's Version, whole or a prefix with "*"; any other a pattern
  // (fnmatch) on Suite or Codename; of several matching releases, the highest version
  ['sw/12'], ['sw/12.4'], ['sw/12*'], ['sw/1*'], ['swuser/12'], ['sw/bookworm*'], ['sw/*-backports'], ['sw/stable?backports'],
  ['sw/[s]table'], ['sw/[!x]table-BACKPORTS'], ['sw/*'], ['swuser/*-backports'], ['sw/Book[v-x]orm'],
];
const REFUSED = [['sw/extra'], ['sw/main'], ['sw/1'], ['sw/12.'], ['sw/stable*x'], ['sw/[x]table']];

describe('name/RELEASE names the Release by its Suite or Codename, as apt-get pkg/release does', () => {
  let dir: string;
  let index: PackageIndex;
  let apt: Awaited<ReturnType<typeof privateApt>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-apt-relname-'));
    const packages: AptPackage[] = [];
    const lines: string[] = [];
    for (const [dist, names, flags, stanzas] of DISTS) {
      const bin = join(dir, 'dists', dist, 'main/binary-amd64');
      await mkdir(bin, { recursive: true });
      await writeFile(join(bin, 'Packages'), stanzas.map((t, i) => t.replace(/^Description/m, `Filename: pool/${dist}${i}.deb\nSize: 1\nSHA256: ${'0'.repeat(64)}\nDescription`)).join('\n'));
      const release = await run('apt-ftparchive', ['-o', 'APT::FTPArchive::Release::Architectures=amd64', '-o', 'APT::FTPArchive::Release::Components=main', 'release', join(dir, 'dists', dist)]);
      expect(release.code, release.stderr).toBe(0);
      const text = names + flags + release.stdout;
      await writeFile(join(dir, 'dists', dist, 'Release'), text);
      const fields = new Map(text.split('\n').filter((l) => /^\S+: /.test(l)).map((l) => l.split(': ', 2) as [string, string]));
      const origin = releaseOrigin(`file:${dir}`, dist, 'main', fields);
      for await (const p of readPackagesIndex(createReadStream(join(bin, 'Packages')), origin, 'Packages')) packages.push(p);
      lines.push(`deb [trusted=yes] file:${dir} ${dist} main`);
    }
    index = buildPackageIndex(packages, 'amd64');
    apt = await privateApt(lines.join('\n'));
    const update = await apt.aptGet('update');
    expect(update.code, update.stderr).toBe(0);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const ours = (set: string[]) => resolveAptClosure(index, set, { recommends: false, installed: new Map() }).map((p) => `${p.name} ${p.version}`).sort();

  it.each(TAKEN.map((s) => [s.join(' '), s]))('%s: both install the same versions', async (_label, set) => {
    const sim = await apt.aptGet('install', '--simulate', '--no-install-recommends', ...(set as string[]));
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set as string[])).toEqual(simulatedInstalls(sim.stdout));
  });

  it.each(REFUSED.map((s) => [s.join(' '), s]))('%s (no Suite, Codename or Version it names): both refuse', async (_label, set) => {
    const sim = await apt.aptGet('install', '--simulate', '--no-install-recommends', ...(set as string[]));
    expect(sim.code, sim.stdout).not.toBe(0);
    expect(sim.stdout + sim.stderr).toMatch(/E: Release '[^']+' for 'sw' was not found/);
    expect(() => ours(set as string[])).toThrow(/the suite \S+ has no sw for amd64 \(stable or bookworm has 1, stable-backports or bookworm-backports has 2\)/);
  });

  it('the release decides', () => {
    expect(ours(['sw'])).toEqual(['sw 1']); // backports are NotAutomatic
    expect(ours(['sw/stable-backports'])).toEqual(['sw 2']);
    expect(ours(['swuser/bookworm-backports'])).toEqual(['swdep 2', 'swuser 2']); // its dependency switched to the same release
  });
});
