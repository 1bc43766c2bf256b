import { createReadStream } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResolveError } from '../../src/errors.js';
import { buildPackageIndex, type PackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { loadAptBase } from '../../src/sources/apt/loadAptBase.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { resolveAptClosure, type InstalledPackage } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, writeUpstream, type FixtureDeb } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';

/**
 * apt's APT::Get::Upgrade-By-Source-Package (apt 2.6, on by default): a package apt marks also upgrades
 * the hosts' other binaries of its source package whose candidate has the same source version. Each
 * set is compared with the real `apt-get install --simulate` on hosts with an older base, rule on and off.
 */
const REPO: FixtureDeb[] = [
  { name: 'openssl', version: '3.0.15-1', depends: 'libssl3 (>= 3.0.0), dep1' },
  { name: 'openssl', version: '3.0.13-1', depends: 'libssl3 (>= 3.0.0), dep1' },
  { name: 'dep1', version: '1' },
  // the sibling's own Depends and Recommends follow it
  { name: 'libssl3', version: '3.0.15-1', source: 'openssl', depends: 'dep2, tool', recommends: 'rec2' },
  { name: 'libssl3', version: '3.0.13-1', source: 'openssl' },
  { name: 'dep2', version: '1' },
  { name: 'rec2', version: '1' },
  // not installed: not carried
  { name: 'libssl-dev', version: '3.0.15-1', source: 'openssl' },
  // a binNMU: binary version differs, source version is the same
  { name: 'libbin', version: '3.0.15-1+b1', source: 'openssl (3.0.15-1)' },
  // another source version (a sibling not rebuilt): stays
  { name: 'libdiff', version: '3.0.14-1', source: 'openssl' },
  // held on the hosts: stays
  { name: 'libheld', version: '3.0.15-1', source: 'openssl' },
  // already at the candidate
  { name: 'libsame', version: '3.0.15-1', source: 'openssl' },
  // the installed one names another source; the candidate's Source counts
  { name: 'librenamed', version: '3.0.15-1', source: 'openssl' },
  { name: 'app', version: '1', depends: 'openssl' },
  { name: 'top', version: '1', depends: 'mid' },
  { name: 'mid', version: '1', depends: 'openssl' },
  { name: 'unrel', version: '1' },
  // tool is installed at its candidate; libtool2 is older
  { name: 'tool', version: '2', source: 'toolsrc' },
  { name: 'libtool2', version: '2', source: 'toolsrc' },
  { name: 'usetool', version: '1', depends: 'tool' },
  { name: 'useviatool', version: '1', depends: 'vtool' },
  { name: 'tool-prov', version: '2', source: 'toolsrc', provides: 'vtool, vtoolb' },
  { name: 'usemid', version: '1', depends: 'midtool' },
  { name: 'midtool', version: '1', depends: 'tool' },
  { name: 'rectool', version: '1', recommends: 'tool' },
  // installed at their candidates: apt visits them down to tool; oldm is older than its candidate
  { name: 'usedeep', version: '1', depends: 'm1' },
  { name: 'm1', version: '1', depends: 'm2' },
  { name: 'm2', version: '1', depends: 'tool' },
  { name: 'useold', version: '1', depends: 'oldm' },
  { name: 'oldm', version: '2', depends: 'tool' },
  { name: 'newx', version: '1', depends: 'newy' },
  { name: 'newy', version: '1', depends: 'midtool' },
  // a met Depends is followed only when one package could ever satisfy it (apt's possible solutions):
  // not an or-group of two packages, nor a name another package provides, even when only one is installed
  { name: 'nx1', version: '1' },
  { name: 'oralt', version: '1', depends: 'nx1 | tool' },
  { name: 'orsame', version: '1', depends: 'tool | tool' },
  { name: 'orghost', version: '1', depends: 'ghost | tool' },
  { name: 'orver', version: '1', depends: 'nx1 (>= 5) | tool' },
  { name: 'altb', version: '1', provides: 'vtoolb' },
  { name: 'usevtoolb', version: '1', depends: 'vtoolb' },
  { name: 'tool3', version: '2', source: 'tool3src' },
  { name: 'libtool3', version: '2', source: 'tool3src' },
  { name: 'alt3', version: '1', provides: 'tool3' },
  { name: 'usetool3', version: '1', depends: 'tool3' },
  { name: 'deepor', version: '1', depends: 'm3' },
  // oldm's installed version 1 counts as a possible solution too (its candidate 2 does not satisfy << 2)
  { name: 'orold', version: '1', depends: 'tool | oldm (<< 2)' },
  { name: 'm3', version: '1', depends: 'nx1 | tool' },
  // xpick is marked (libxpick upgraded), then dropped because zpick's dependencies cannot be met; ypick
  // is taken instead and the sibling's upgrade stays, as in apt
  { name: 'wpick', version: '1', depends: 'xpick | ypick' },
  { name: 'xpick', version: '2', source: 'xpicksrc', depends: 'zpick' },
  { name: 'libxpick', version: '2', source: 'xpicksrc' },
  { name: 'ypick', version: '1' },
  { name: 'zpick', version: '1', depends: 'zzpick' },
  { name: 'zzpick', version: '1', depends: 'ghost' },
  // a sibling whose upgrade breaks an installed package: apt removes it, ferry refuses
  { name: 'brk', version: '3', source: 'brksrc' },
  { name: 'libbrk', version: '3', source: 'brksrc', breaks: 'victim (<< 2)' },
  { name: 'victim', version: '1' },
  // a sibling whose upgrade leaves an installed package's Depends unmet: apt removes it, ferry refuses
  { name: 'brk2', version: '3', source: 'brk2src' },
  { name: 'libbrk2', version: '3', source: 'brk2src' },
  { name: 'dependent', version: '1', depends: 'libbrk2 (<< 3)' },
];

const STATUS: Array<{ name: string; version: string; source?: string; hold?: boolean; provides?: string; depends?: string }> = [
  { name: 'libssl3', version: '3.0.11-1', source: 'openssl' },
  { name: 'libbin', version: '3.0.11-1', source: 'openssl' },
  { name: 'libdiff', version: '3.0.11-1', source: 'openssl' },
  { name: 'libheld', version: '3.0.11-1', source: 'openssl', hold: true },
  { name: 'libsame', version: '3.0.15-1', source: 'openssl' },
  { name: 'librenamed', version: '3.0.11-1', source: 'oldssl' },
  { name: 'tool', version: '2', source: 'toolsrc' },
  { name: 'tool-prov', version: '2', source: 'toolsrc', provides: 'vtool, vtoolb' },
  { name: 'libtool2', version: '1', source: 'toolsrc' },
  { name: 'midtool', version: '1', source: 'midtool', depends: 'tool' },
  { name: 'm1', version: '1', depends: 'm2' },
  { name: 'm2', version: '1', depends: 'tool' },
  { name: 'oldm', version: '1', depends: 'tool' },
  { name: 'tool3', version: '2', source: 'tool3src' },
  { name: 'libtool3', version: '1', source: 'tool3src' },
  { name: 'm3', version: '1', depends: 'nx1 | tool' },
  { name: 'libxpick', version: '1', source: 'xpicksrc' },
  { name: 'libbrk', version: '2', source: 'brksrc' },
  { name: 'victim', version: '1' },
  { name: 'libbrk2', version: '2', source: 'brk2src' },
  { name: 'dependent', version: '1', depends: 'libbrk2 (<< 3)' },
];

function statusText(): string {
  return STATUS.map((p) =>
    [
      `Package: ${p.name}`,
      `Status: ${p.hold ? 'hold' : 'install'} ok installed`,
      'Priority: optional',
      'Maintainer: Ferry Tests <tests@example.invalid>',
      'Architecture: amd64',
      p.source && `Source: ${p.source}`,
      `Version: ${p.version}`,
      p.depends && `Depends: ${p.depends}`,
      p.provides && `Provides: ${p.provides}`,
      `Description: installed ${p.name}`,
      '',
    ]
      .filter((l) => l !== undefined)
      .join('\n'),
  ).join('\n');
}

const SETS = [['openssl'], ['app'], ['top'], ['openssl=3.0.13-1'], ['libbin'], ['libdiff'], ['unrel'], ['tool'], ['usetool'], ['useviatool'], ['usemid'], ['rectool'], ['usedeep'], ['useold'], ['newx'], ['oralt'], ['orsame'], ['orghost'], ['orver'], ['usevtoolb'], ['usetool3'], ['deepor'], ['orold'], ['wpick'], ['openssl', 'libssl3=3.0.13-1']];

function installs(stdout: string): string[] {
  return [...stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]!.replace(/:\S+$/, '')} ${m[2]}`).sort();
}

const hasAptGet = (() => {
  try {
    execFileSync('apt-get', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasAptGet)('Upgrade-By-Source-Package: ferry agrees with apt-get on hosts with an older base', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serveDir>>;
  let index: PackageIndex;
  let apt: Awaited<ReturnType<typeof privateApt>>;
  let base: Map<string, InstalledPackage>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-apt-bysource-'));
    const key = await writeKey(dir, 'upstream');
    const debs: string[] = [];
    for (const d of REPO) debs.push(await buildDeb(dir, d));
    await writeUpstream(join(dir, 'upstream'), debs, { suite: 'bysource', key: await readPrivate(key.secretArmored) });
    server = await serveDir(join(dir, 'upstream'));
    const packages: AptPackage[] = [];
    const gz = join(dir, 'upstream/dists/bysource/main/binary-amd64/Packages.gz');
    for await (const p of readPackagesIndex(createReadStream(gz).pipe(createGunzip()), { uri: server.url, suite: 'bysource', component: 'main' }, gz)) packages.push(p);
    index = buildPackageIndex(packages, 'amd64');
    apt = await privateApt(`deb [signed-by=${key.public}] ${server.url} bysource main`);
    await writeFile(join(apt.root, 'var/lib/dpkg/status'), statusText());
    await writeFile(join(dir, 'status'), statusText());
    base = await loadAptBase(index, { status: 'status' }, dir);
    const u = await apt.aptGet('update');
    expect(u.code, u.stderr).toBe(0);
  }, 120_000);
  afterAll(() => server?.close());

  const ours = (set: string[], o: { recommends?: boolean; upgradeBySource?: boolean } = {}) =>
    resolveAptClosure(index, set, { recommends: o.recommends ?? false, installed: base, upgradeBySource: o.upgradeBySource })
      // ferry carries a requested package even when the hosts have it (apt-get: "already the newest version")
      .filter((p) => base.get(p.name)?.version !== p.version)
      .map((p) => `${p.name} ${p.version}`)
      .sort();

  it.each(SETS.map((s) => [s.join(' '), s]))('%s: same packages as apt-get, rule on and off', async (_label, set) => {
    const on = await apt.aptGet('install', '--simulate', '--no-install-recommends', ...(set as string[]));
    expect(on.code, on.stdout + on.stderr).toBe(0);
    expect(ours(set as string[])).toEqual(installs(on.stdout));
    const off = await apt.aptGet('install', '--simulate', '--no-install-recommends', '-o', 'APT::Get::Upgrade-By-Source-Package=false', ...(set as string[]));
    expect(off.code, off.stdout + off.stderr).toBe(0);
    expect(ours(set as string[], { upgradeBySource: false })).toEqual(installs(off.stdout));
  });

  it('with Recommends, the sibling brings its Recommends too, as apt-get does', async () => {
    const sim = await apt.aptGet('install', '--simulate', '--install-recommends', 'openssl');
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(['openssl'], { recommends: true })).toEqual(installs(sim.stdout));
    expect(ours(['openssl'], { recommends: true })).toContain('rec2 1');
  });

  it('a sibling whose upgrade breaks an installed package: apt-get removes it, ferry refuses', async () => {
    const sim = await apt.aptGet('install', '--simulate', '--no-install-recommends', 'brk');
    expect(sim.stdout).toMatch(/^Remv victim /m);
    expect(sim.stdout).toMatch(/^Inst libbrk \[2\] \(3 /m);
    expect(() => ours(['brk'])).toThrow(ResolveError);
    expect(() => ours(['brk'])).toThrow(/victim 1 \(on the hosts\)/);
    expect(ours(['brk'], { upgradeBySource: false })).toEqual(['brk 3']);
  });

  it('a sibling whose upgrade leaves an installed package\'s Depends unmet: apt-get removes it, ferry refuses', async () => {
    const sim = await apt.aptGet('install', '--simulate', '--no-install-recommends', 'brk2');
    expect(sim.stdout).toMatch(/^Remv dependent /m);
    expect(sim.stdout).toMatch(/^Inst libbrk2 \[2\] \(3 /m);
    expect(() => ours(['brk2'])).toThrow(/no consistent set: dependent 1 on the hosts depends on "libbrk2 \(<< 3\)", which brk2 3 -> libbrk2 3 no longer satisfies/);
    expect(ours(['brk2'], { upgradeBySource: false })).toEqual(['brk2 3']);
  });

  it('the rule decides: what it adds and what it leaves', () => {
    const all = ours(['openssl']);
    expect(all).toEqual(['dep1 1', 'dep2 1', 'libbin 3.0.15-1+b1', 'librenamed 3.0.15-1', 'libssl3 3.0.15-1', 'openssl 3.0.15-1']);
    expect(ours(['openssl'], { upgradeBySource: false })).toEqual(['dep1 1', 'openssl 3.0.15-1']);
    // a dependency met by a package installed at its candidate still upgrades that package's siblings
    expect(ours(['usetool'])).toEqual(['libtool2 2', 'usetool 1']);
    // but not one met further down, by a package apt does not visit
    expect(ours(['usemid'])).toEqual(['libtool2 2', 'usemid 1']);
    expect(ours(['useold'])).toEqual(['useold 1']);
    // a sibling's own met Depends (libssl3 -> tool) are not looked into: libtool2 stays for openssl
    expect(ours(['openssl'])).not.toContain('libtool2 2');
    expect(ours(['rectool'], { recommends: true })).toEqual(['rectool 1']);
    // a met Depends with more than one possible solution is not followed
    expect(ours(['orsame'])).toEqual(['libtool2 2', 'orsame 1']);
    expect(ours(['orghost'])).toEqual(['libtool2 2', 'orghost 1']);
    expect(ours(['orver'])).toEqual(['libtool2 2', 'orver 1']);
    expect(ours(['oralt'])).toEqual(['oralt 1']);
    expect(ours(['usevtoolb'])).toEqual(['usevtoolb 1']);
    expect(ours(['usetool3'])).toEqual(['usetool3 1']);
    expect(ours(['deepor'])).toEqual(['deepor 1']);
    expect(ours(['orold'])).toEqual(['orold 1']);
    expect(ours(['wpick'])).toEqual(['libxpick 2', 'wpick 1', 'ypick 1']);
  });
});

describe('Upgrade-By-Source-Package, unit rules (no apt-get)', () => {
  const pk = (name: string, version: string, extra: string[] = []) =>
    [`Package: ${name}`, `Version: ${version}`, 'Architecture: amd64', ...extra, `Filename: pool/${name}_${version}.deb`, 'Size: 1', `SHA256: ${'0'.repeat(64)}`].join('\n') + '\n';
  const idx = async (text: string) => {
    const pkgs: AptPackage[] = [];
    for await (const p of readPackagesIndex(Readable.from([text]), { uri: 'http://127.0.0.1/x', suite: 't', component: 'main' }, 'unit')) pkgs.push(p);
    return buildPackageIndex(pkgs, 'amd64');
  };
  const inst = (entries: Array<[string, string, boolean?]>) => new Map(entries.map(([name, version, held]) => [name, { name, version, provides: [], ...(held ? { held } : {}) }]));
  const run = (ix: PackageIndex, roots: string[], installed: Map<string, InstalledPackage>, upgradeBySource?: boolean) =>
    resolveAptClosure(ix, roots, { recommends: false, installed, upgradeBySource }).map((p) => `${p.name} ${p.version}`);

  it('matches siblings by the source name and version of their candidate (Source: name (version) for binNMUs)', async () => {
    const ix = await idx([pk('s', '2-1'), pk('a', '2-1+b1', ['Source: s (2-1)']), pk('b', '2-1', ['Source: s']), pk('c', '2-2', ['Source: s']), pk('d', '2-1', ['Source: t (2-1)'])].join('\n'));
    const installed = inst([['a', '1'], ['b', '1'], ['c', '1'], ['d', '1']]);
    expect(run(ix, ['s'], installed).sort()).toEqual(['a 2-1+b1', 'b 2-1', 's 2-1']);
    expect(run(ix, ['s'], installed, false)).toEqual(['s 2-1']);
    // from a sibling, the source package itself is upgraded when installed
    expect(run(ix, ['b'], inst([['s', '1']])).sort()).toEqual(['b 2-1', 's 2-1']);
  });

  it('leaves held packages and packages that are not installed', async () => {
    const ix = await idx([pk('s', '2'), pk('a', '2', ['Source: s']), pk('b', '2', ['Source: s'])].join('\n'));
    expect(run(ix, ['s'], inst([['a', '1', true]]))).toEqual(['s 2']);
  });

  it('a requested package the hosts already have at the newest version still upgrades its siblings', async () => {
    const ix = await idx([pk('s', '2'), pk('a', '2', ['Source: s'])].join('\n'));
    expect(run(ix, ['s'], inst([['s', '2'], ['a', '1']])).sort()).toEqual(['a 2', 's 2']);
  });

  it('a met Depends leads to the installed package\'s siblings only when one package could satisfy it', async () => {
    const base = [pk('t', '2', ['Source: ts']), pk('lt', '2', ['Source: ts']), pk('n', '1')];
    const installed = inst([['t', '2'], ['lt', '1']]);
    const ix = await idx([...base, pk('one', '1', ['Depends: t']), pk('twice', '1', ['Depends: t | t']), pk('either', '1', ['Depends: n | t']), pk('unsat', '1', ['Depends: n (>= 2) | t'])].join('\n'));
    expect(run(ix, ['one'], installed).sort()).toEqual(['lt 2', 'one 1']);
    expect(run(ix, ['twice'], installed).sort()).toEqual(['lt 2', 'twice 1']);
    expect(run(ix, ['unsat'], installed).sort()).toEqual(['lt 2', 'unsat 1']);
    expect(run(ix, ['either'], installed)).toEqual(['either 1']);
    // an installed version that satisfies counts, though its candidate does not
    const older = await idx([...base, pk('n', '2'), pk('old', '1', ['Depends: t | n (<< 2)'])].join('\n'));
    expect(run(older, ['old'], inst([['t', '2'], ['lt', '1'], ['n', '1']]))).toEqual(['old 1']);
    // another package providing t makes two possible solutions, though only t is installed
    const withProvider = await idx([...base, pk('one', '1', ['Depends: t']), pk('p', '1', ['Provides: t'])].join('\n'));
    expect(run(withProvider, ['one'], installed)).toEqual(['one 1']);
  });

  it('a sibling\'s own dependencies that cannot be met drop the sibling, not the install', async () => {
    const ix = await idx([pk('s', '2'), pk('a', '2', ['Source: s', 'Depends: nowhere'])].join('\n'));
    expect(run(ix, ['s'], inst([['a', '1']]))).toEqual(['s 2']);
  });

  it('any upgrade of the closure that leaves an installed package\'s Depends unmet is refused (apt would remove it)', async () => {
    const ix = await idx([pk('x', '1', ['Depends: lib (>= 2)']), pk('lib', '2', ['Provides: vlib'])].join('\n'));
    const installed = new Map<string, InstalledPackage>([
      ['lib', { name: 'lib', version: '1', provides: [{ name: 'vold' }] }],
      ['user', { name: 'user', version: '1', provides: [], depends: 'lib (<< 2)' }],
    ]);
    expect(() => run(ix, ['x'], installed)).toThrow(/user 1 on the hosts depends on "lib \(<< 2\)", which x 1 -> lib 2 no longer satisfies/);
    // a Provides the upgrade drops counts too
    installed.set('user', { name: 'user', version: '1', provides: [], depends: 'vold' });
    expect(() => run(ix, ['x'], installed)).toThrow(/user 1 on the hosts depends on "vold"/);
    // a dependency the hosts already left unmet is not the closure's doing
    installed.set('user', { name: 'user', version: '1', provides: [], depends: 'ghost' });
    expect(run(ix, ['x'], installed).sort()).toEqual(['lib 2', 'x 1']);
  });
});
