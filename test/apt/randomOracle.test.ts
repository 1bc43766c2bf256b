import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { loadAptBase } from '../../src/sources/apt/loadAptBase.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { releasePin } from '../../src/sources/apt/readUpstreamIndexes.js';
import { resolveAptClosure } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { run } from '../helpers/cli.js';
import { privateApt } from './privateApt.js';
import { simulatedInstalls } from './suitesFixture.js';

/**
 * ferry's apt closure against the real apt-get on small generated archives: two suites (main and one that
 * is normal, NotAutomatic or also ButAutomaticUpgrades), versioned and or-group Depends, Provides,
 * Conflicts, Breaks, a dpkg status that `apt-get check` accepts, requests with and without `/suite`. The
 * seeds are fixed, so every run checks the same archives. Where apt-get refuses, or removes a package of the
 * hosts, ferry must refuse; otherwise both must install the same versions.
 */
const SEEDS = [
  ...Array.from({ length: 80 }, (_, i) => 13001 + i),
  // seeds on which ferry disagreed with apt-get before the fixes of 2026-12-05
  8092, 8230, 10150, 11164, 16131, 16276, 20209,
];
/**
 * With Recommends and Pre-Depends. Where apt-get resolves and then cannot order the run (a Pre-Depends loop:
 * "Could not configure", MaxLoopCount, "Conf Broken"), its choice is read from --print-uris, as for the
 * features below
 */
const RECOMMENDS_SEEDS = [
  ...Array.from({ length: 40 }, (_, i) => 25001 + i),
  // seeds on which ferry disagreed with apt-get before the fixes of 2026-12-05
  26074, 26149, 26249,
  // 61188: a package marked on the way whose Conflicts/Breaks hit a later pick does not fail the pick; apt's
  // problem resolver settles the clash by its scores (fixed 2026-12-07)
  61188,
  // 220151 (MaxLoopCount in SmartUnPack), 220482 (Conf Broken): apt-get resolved, then could not order the run
  220151, 220482,
];

/**
 * Where some packages also provide a real package's name (`Provides: v0, p3 (= 2)`), and a request
 * `name/suite` or `name=version` then finds no version of that name: apt-get takes the one package that
 * provides it from that suite (or at that version)
 */
const REAL_PROVIDES_SEEDS = [
  ...Array.from({ length: 40 }, (_, i) => 90001 + i),
  // seeds on which ferry disagreed with apt-get before the fixes of 2026-12-07
  90858, 90919,
  // 90576: `p2 p2/extra` where extra has no p2 but p5 provides p2 there: two requests, p2 and p5 (fixed 2026-12-07)
  90576,
  // 90540: a hosts' package that a pick's own Breaks hit (no upgrade clears it) is removed once the pick is
  // marked, and stays removed when the problem resolver then holds the pick back: ferry must refuse (fixed 2026-12-07)
  90540,
  // 90972: apt's problem resolver re-instates a protected package's broken dependency alternative by
  // alternative (DoUpgrade), through the first package providing a virtual name, whose own dependencies come
  // along (p1) even when that package does not meet the group (fixed 2026-12-07)
  90972,
];

/**
 * Denser archives: 6 to 13 packages, more or-groups (60%), Conflicts (50%) and Breaks (40%), so that more
 * attempts fail half-way
 */
const DENSE_SEEDS = [
  ...Array.from({ length: 30 }, (_, i) => 120001 + i),
  // seeds on which ferry disagreed with apt-get before the fixes of 2026-12-07
  120339,
  // a package marked on the way whose Conflicts/Breaks hit a later pick does not fail the pick; apt's problem
  // resolver settles the clash by its scores, holding back what it leaves broken (fixed 2026-12-07)
  120037, 120643, 180701, 180720, 180758,
  // 120756: a hosts' package removed for a pick's own Conflicts/Breaks stays removed when the pick is then
  // left out: ferry must refuse (fixed 2026-12-07)
  120756,
  // 180682: a package of the hosts whose own Breaks hit a pick (no upgrade clears them) does not stop the pick:
  // apt marks it, and its problem resolver removes the hosts' package, which scores no higher: ferry must refuse
  // (fixed 2026-12-07)
  180682,
  // 180760: a package the problem resolver held back is re-instated once (DoUpgrade) when a protected package
  // needs it, its dependencies re-instated with it (fixed 2026-12-07)
  180760,
  // 250096: a protected package that Depends on a package of the hosts a pick removed keeps it, and the pick,
  // re-instated later, is held back on its Breaks, by the scores apt took when its resolver started (fixed 2026-12-07)
  250096,
];

/**
 * With more of the fields real archives use: Essential and Priority (required, important, standard,
 * optional, extra), Multi-Arch (allowed, foreign, same) with `:any` and `:native` dependencies, Pre-Depends,
 * a second virtual name provided with versions and asked for with versions, Conflicts and alternatives on
 * virtual names, Replaces, and versions with epochs and tildes
 */
const FEATURE_SEEDS = [
  // 140053: apt's Essential and Important flags are the package's (fixed 2026-12-07)
  ...Array.from({ length: 30 }, (_, i) => 140001 + i),
  // a package marked on the way whose Conflicts/Breaks hit a later pick does not fail the pick; apt's problem
  // resolver settles the clash by its scores (fixed 2026-12-07)
  142196, 142701,
];

/**
 * Seeds of the other kinds joined (KIND as FERRY_APT_ORACLE_RANGE takes it) on which ferry disagreed with apt-get
 */
const JOINED_SEEDS: Array<[string, number]> = [
  // 170190: an Important package being installed keeps what it needs (apt's autoremove roots), and a package
  // marked on the way whose Conflicts/Breaks hit a later pick does not fail the pick (fixed 2026-12-07)
  ['features+recommends', 170190],
  ['features+recommends', 170575],
  // 170884: a package of the hosts whose or-group an upgrade broke gets an alternative installed only when the
  // hosts lack the package that alternative names (apt's FixByInstall); here both are installed, so apt-get
  // removes it and ferry must refuse (fixed 2026-12-07)
  ['features+recommends', 170884],
  // 170421: a pick (p0) whose Conflicts removed a package of the hosts (p3) that it also Depends on, and that
  // outscores it: apt's problem resolver keeps p3 and holds p0 back, removing nothing (fixed 2026-12-07)
  ['features+recommends', 170421],
  ['features+recommends+provides+dense', 160855],
  ['provides+dense', 90972],
];

/**
 * More seeds for a run by hand: FERRY_APT_ORACLE_RANGE="KIND:FIRST:COUNT" (KIND: plain, recommends, provides,
 * dense, features, or several joined by +, e.g. features+recommends), e.g. `FERRY_APT_ORACLE_RANGE=features:140001:500 npx vitest run test/apt/randomOracle.test.ts -t range`;
 * FERRY_APT_ORACLE_DEBUG=DIR writes each case (archive, dpkg status, requests, apt-get's answer) to DIR/SEED.json
 */
const RANGE = (() => {
  const m = /^((?:plain|recommends|provides|dense|features)(?:\+(?:recommends|provides|dense|features))*):(\d+):(\d+)$/.exec(process.env.FERRY_APT_ORACLE_RANGE ?? '');
  return m ? { kind: m[1]!, seeds: Array.from({ length: Number(m[3]) }, (_, i) => Number(m[2]) + i) } : undefined;
})();

/** a small deterministic generator (an LCG): the same seed gives the same archive on every machine */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Stanza {
  name: string;
  version: string;
  fields: Record<string, string>;
}

function generate(seed: number, withRecommends = false, realProvides = false, dense = false, features = false) {
  const r = lcg(seed * 7919);
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const names = Array.from({ length: dense ? 6 + Math.floor(r() * 8) : 4 + Math.floor(r() * 5) }, (_, i) => `p${i}`);
  const VERSIONS = features ? ['1', '2', '2~rc1', '1:1', '2-1'] : ['1', '2', '3'];
  const relation = () => {
    if (features && r() < 0.12) {
      // the second virtual name, with or without a version asked; a real name `:any` or `:native`
      const bound = r() < 0.5 ? '' : ` (${pick(['>=', '<<', '='])} ${pick(VERSIONS)})`;
      return `v1${bound}`;
    }
    const n = r() < 0.1 ? 'v0' : pick(names);
    const versioned = r() >= 0.7;
    const qual = features && n !== 'v0' && r() < 0.2 ? pick([':any', ':any', ':native']) : '';
    if (n === 'v0' || !versioned) return n + qual;
    return `${n}${qual} (${pick(['>=', '<<', '=', '>>', '<='])} ${features ? pick(VERSIONS) : 1 + Math.floor(r() * 3)})`;
  };
  const groups = (max = 2) => Array.from({ length: Math.floor(r() * (max + 1)) }, () => Array.from({ length: r() < (dense ? 0.6 : 0.4) ? 2 + Math.floor(r() * 2) : 1 }, relation).join(' | ')).join(', ');
  const stanza = (name: string, version: string): Stanza => {
    const fields: Record<string, string> = {};
    const depends = groups();
    if (depends) fields.Depends = depends;
    for (const [field, p] of [['Conflicts', dense ? 0.5 : 0.3], ['Breaks', dense ? 0.4 : 0.2]] as const) {
      if (r() < p) {
        const rel = relation();
        if (!rel.startsWith(name)) fields[field] = rel;
      }
    }
    if (r() < (realProvides ? 0.35 : 0.15)) {
      fields.Provides = r() < 0.5 ? 'v0' : `v0 (= ${version})`;
      if (realProvides && r() < 0.5) {
        const other = pick(names);
        if (other !== name) fields.Provides += r() < 0.5 ? `, ${other}` : `, ${other} (= ${version})`;
      }
    }
    if (features) {
      if (r() < 0.25) fields.Provides = (fields.Provides ? `${fields.Provides}, ` : '') + (r() < 0.6 ? `v1 (= ${version})` : 'v1');
      if (r() < 0.15) fields.Conflicts = (fields.Conflicts ? `${fields.Conflicts}, ` : '') + pick(['v0', 'v1', 'v1 (<< 2)']);
      if (r() < 0.15) {
        const pre = groups(1);
        if (pre) fields['Pre-Depends'] = pre;
      }
      if (r() < 0.15) fields.Replaces = pick(names.filter((x) => x !== name).concat(['v0']));
      if (r() < 0.35) fields['Multi-Arch'] = pick(['allowed', 'foreign', 'same']);
      if (r() < 0.3) fields.Priority = pick(['required', 'important', 'standard', 'extra']);
      if (r() < 0.08) fields.Essential = 'yes';
      else if (r() < 0.05) fields.Important = 'yes';
    }
    if (withRecommends) {
      const recommends = groups(1);
      if (recommends) fields.Recommends = recommends;
      if (r() < 0.15) {
        const pre = groups(1);
        if (pre) fields['Pre-Depends'] = pre;
      }
    }
    return { name, version, fields };
  };
  const main: Stanza[] = [];
  const extra: Stanza[] = [];
  for (const n of names) {
    if (features) {
      const two = VERSIONS.slice(0, 4);
      const a = pick(two);
      const b = pick(two.filter((x) => x !== a));
      for (const v of r() < 0.4 ? [a, b] : [a]) main.push(stanza(n, v));
      // versions of their own: the same version in two suites is one .deb in real archives
      if (r() < 0.25) extra.push(stanza(n, pick(['3', '2-2', '1:2'])));
      continue;
    }
    for (const v of r() < 0.4 ? ['1', '2'] : [pick(['1', '2'])]) main.push(stanza(n, v));
    if (r() < 0.25) extra.push(stanza(n, '3'));
  }
  const extraRelease = pick(['', 'NotAutomatic: yes\n', 'NotAutomatic: yes\nButAutomaticUpgrades: yes\n']);
  const installed: Stanza[] = [];
  for (const n of names) {
    if (r() < 0.4) {
      const versions = [...main, ...extra].filter((p) => p.name === n);
      if (versions.length) installed.push(pick(versions));
    }
  }
  const roots = [...new Set(Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(names) + (r() < 0.15 && extra.length ? '/extra' : '')))];
  return { suites: { main, extra }, extraRelease, installed, roots };
}

const control = (p: Stanza, head: string) =>
  `Package: ${p.name}\n${head}Version: ${p.version}\nArchitecture: amd64\nMaintainer: T <t@example.invalid>\n${p.fields.Priority ? '' : 'Priority: optional\n'}${Object.entries(p.fields).map(([k, v]) => `${k}: ${v}\n`).join('')}Description: generated\n`;

describe('the apt closure agrees with apt-get on generated archives', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const compare = async (seed: number, withRecommends: boolean, realProvides = false, dense = false, features = false) => {
    const c = generate(seed, withRecommends, realProvides, dense, features);
    const dir = await mkdtemp(join(tmpdir(), 'ferry-apt-random-'));
    dirs.push(dir);
    const lines: string[] = [];
    const packages: AptPackage[] = [];
    for (const [suite, stanzas] of Object.entries(c.suites)) {
      if (!stanzas.length) continue;
      const bin = join(dir, 'dists', suite, 'main', 'binary-amd64');
      await mkdir(bin, { recursive: true });
      await writeFile(join(bin, 'Packages'), stanzas.map((p) => control(p, `Filename: pool/${p.name}_${p.version}.deb\nSize: 1\nSHA256: ${'0'.repeat(64)}\n`)).join('\n'));
      const release = await run('apt-ftparchive', ['-o', `APT::FTPArchive::Release::Suite=${suite}`, '-o', 'APT::FTPArchive::Release::Architectures=amd64', '-o', 'APT::FTPArchive::Release::Components=main', 'release', join(dir, 'dists', suite)]);
      expect(release.code, release.stderr).toBe(0);
      const text = (suite === 'extra' ? c.extraRelease : '') + release.stdout;
      await writeFile(join(dir, 'dists', suite, 'Release'), text);
      lines.push(`deb [trusted=yes] file:${dir} ${suite} main`);
      const fields = new Map(text.split('\n').filter((l) => /^\S+: /.test(l)).map((l) => l.split(': ', 2) as [string, string]));
      for await (const p of readPackagesIndex(createReadStream(join(bin, 'Packages')), { uri: `file:${dir}`, suite, component: 'main', pin: releasePin(fields) }, 'Packages')) packages.push(p);
    }
    const index = buildPackageIndex(packages, 'amd64');
    const apt = await privateApt(lines.join('\n'));
    dirs.push(apt.root);
    const update = await apt.aptGet('update');
    expect(update.code, update.stderr).toBe(0);
    // hosts apt-get considers consistent: drop installed packages until `apt-get check` passes
    let status = '';
    for (;;) {
      status = c.installed.map((p) => control(p, 'Status: install ok installed\n')).join('\n');
      await writeFile(join(apt.root, 'var/lib/dpkg/status'), status);
      if ((await apt.aptGet('check')).code === 0) break;
      c.installed.splice(Math.floor(c.installed.length / 2), 1);
    }
    await writeFile(join(dir, 'status'), status);
    const base = await loadAptBase(index, { status: 'status' }, dir);
    let sim = await apt.aptGet('install', '--simulate', withRecommends ? '--install-recommends' : '--no-install-recommends', ...c.roots);
    if ((features || withRecommends) && sim.code !== 0 && /^E: (?:Could(?:n't| not) configure |Internal error: .*MaxLoopCount|Conf Broken )/m.test(sim.stdout + sim.stderr)) {
      // apt-get resolved, then could not order the run (the random Pre-Depends make loops no archive
      // has: "probably a dependency cycle", MaxLoopCount): its choice is the files --print-uris names
      // (pool/NAME_VERSION.deb), its removals the summary's count. ferry does not look for such loops
      const uris = await apt.aptGet('install', '--print-uris', withRecommends ? '--install-recommends' : '--no-install-recommends', ...c.roots);
      const removes = /(\d+) to remove/.exec(uris.stdout)?.[1];
      const inst = [...uris.stdout.matchAll(/^'[^']*\/pool\/([^_/']+)_([^/']+)\.deb' /gm)].map((m) => `Inst ${m[1]} (${decodeURIComponent(m[2]!)} x)`);
      sim = { ...uris, code: uris.code || (removes !== '0' ? 1 : 0), stdout: inst.join('\n') };
    }
    const ours = () => resolveAptClosure(index, c.roots, { recommends: withRecommends, installed: base }).map((p) => `${p.name} ${p.version}`);
    if (process.env.FERRY_APT_ORACLE_DEBUG) await writeFile(process.env.FERRY_APT_ORACLE_DEBUG + `/${seed}.json`, JSON.stringify({ seed, roots: c.roots, installed: status, release: c.extraRelease, suites: Object.fromEntries(Object.entries(c.suites).map(([k, v]) => [k, v.map((p) => control(p, ''))])), sim: sim.stdout + sim.stderr }, null, 1));
    if (sim.code !== 0 || /^Remv /m.test(sim.stdout)) {
      expect(ours, `apt-get refuses or removes: ${sim.stdout.slice(-300)}`).toThrow();
      return;
    }
    // a requested package the hosts have at that version: apt-get installs nothing, ferry carries it
    const requested = new Set(c.roots.map((x) => x.split('/')[0]));
    const kept = (x: string) => !(requested.has(x.split(' ')[0]) && c.installed.some((p) => `${p.name} ${p.version}` === x));
    expect(ours().filter(kept).sort()).toEqual(simulatedInstalls(sim.stdout));
  };

  it.each(SEEDS)('seed %i', (seed) => compare(seed, false));
  it.each(RECOMMENDS_SEEDS)('seed %i, with Recommends and Pre-Depends (--install-recommends)', (seed) => compare(seed, true));
  it.each(REAL_PROVIDES_SEEDS)('seed %i, where packages provide real package names', (seed) => compare(seed, false, true));
  it.each(DENSE_SEEDS)('seed %i, denser (more or-groups, Conflicts and Breaks)', (seed) => compare(seed, false, false, true));
  it.each(FEATURE_SEEDS)('seed %i, with Essential, Priority, Multi-Arch, :any, Pre-Depends, versioned virtual names, Replaces, epochs', (seed) => compare(seed, false, false, false, true));
  const byKind = (kind: string, seed: number) => {
    const has = (x: string) => kind.split('+').includes(x);
    return compare(seed, has('recommends'), has('provides'), has('dense'), has('features'));
  };
  it.each(JOINED_SEEDS)('%s seed %i', (kind, seed) => byKind(kind, seed));
  if (RANGE) it.each(RANGE.seeds)(`range seed %i (${RANGE.kind})`, (seed) => byKind(RANGE.kind, seed));
});
