import { createReadStream } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
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
 * The oracle: a generated, signed repository built so that each rule of apt's choice matters, and for
 * each set of requested packages, ferry's closure compared with what the real
 * `apt-get install --simulate --no-install-recommends` does in a private apt state (an empty dpkg
 * status, or a status file of "installed" base packages). Both agree on the packages and versions, or
 * both refuse.
 */
const REPO: FixtureDeb[] = [
  // provider tie-breakers: Essential, Important, Priority, the package of the name itself, apt's cache order
  { name: 'want-ess', version: '1', depends: 'vess' },
  { name: 'ess-a', version: '1', provides: 'vess', priority: 'required' },
  { name: 'ess-b', version: '1', provides: 'vess', essential: true, priority: 'optional' },
  { name: 'want-imp', version: '1', depends: 'vimp' },
  { name: 'imp-a', version: '1', provides: 'vimp', priority: 'required' },
  { name: 'imp-b', version: '1', provides: 'vimp', important: true, priority: 'optional' },
  { name: 'want-pri', version: '1', depends: 'vpri' },
  { name: 'pri-a', version: '1', provides: 'vpri', priority: 'optional' },
  { name: 'pri-b', version: '1', provides: 'vpri', priority: 'standard' },
  { name: 'want-real', version: '1', depends: 'realpkg' },
  { name: 'realpkg', version: '1', priority: 'optional' },
  { name: 'fake-real', version: '1', provides: 'realpkg', priority: 'required' },
  // equal in all else: apt takes the provider its cache numbered last (ord-z is named early, by a Suggests)
  { name: 'want-ord', version: '1', depends: 'vord', suggests: 'ord-z' },
  { name: 'ord-a', version: '1', provides: 'vord' },
  { name: 'ord-z', version: '1', provides: 'vord' },
  // an alternative whose own dependencies cannot be met falls through to the next, at any depth
  { name: 'want-alt', version: '1', depends: 'broken-a | good-b' },
  { name: 'broken-a', version: '1', depends: 'nowhere' },
  { name: 'good-b', version: '1' },
  { name: 'want-deep', version: '1', depends: 'broken-c | good-d' },
  { name: 'broken-c', version: '1', depends: 'mid-broken' },
  { name: 'mid-broken', version: '1', depends: 'nowhere-either (>= 2)' },
  { name: 'good-d', version: '1' },
  { name: 'want-virt-broken', version: '1', depends: 'vbroke' },
  { name: 'vb-first', version: '1', provides: 'vbroke', priority: 'important', depends: 'nowhere' },
  { name: 'vb-second', version: '1', provides: 'vbroke', priority: 'optional' },
  // Conflicts and Breaks
  { name: 'conf-x', version: '1', conflicts: 'conf-y' },
  { name: 'conf-y', version: '1' },
  { name: 'app2', version: '1.0' },
  { name: 'breaker', version: '1', breaks: 'app2 (<< 2)' },
  { name: 'an-root', version: '1', depends: 'van' },
  { name: 'an-a', version: '1', provides: 'van', priority: 'standard', conflicts: 'an-root' },
  { name: 'an-b', version: '1', provides: 'van', priority: 'optional' },
  { name: 'pre-root', version: '1', preDepends: 'pre-dep (>= 2)' },
  { name: 'pre-dep', version: '2.1' },
  { name: 'mta-user', version: '1', depends: 'vmta' },
  { name: 'mta-a', version: '1', provides: 'vmta', conflicts: 'vmta', replaces: 'vmta', priority: 'standard' },
  { name: 'mta-b', version: '1', provides: 'vmta', conflicts: 'vmta', replaces: 'vmta', priority: 'optional' },
  // for hosts with a base: blib 1.0 is installed, 2.0 (with a dependency of its own) is offered
  { name: 'needs-new', version: '1', depends: 'blib (>= 2)' },
  { name: 'blib', version: '2.0', depends: 'blib-dep' },
  { name: 'blib-dep', version: '1' },
  { name: 'needs-old', version: '1', depends: 'blib (>= 1)' },
  { name: 'needs-vbase', version: '1', depends: 'vbase' },
  { name: 'base-prov', version: '1', provides: 'vbase', priority: 'required' },
  { name: 'other-vbase', version: '1', provides: 'vbase', priority: 'required', essential: true },
  // versioned Provides
  { name: 'vp-user', version: '1', depends: 'vprov (>= 2)' },
  { name: 'vp-old', version: '1', provides: 'vprov (= 1)', priority: 'required' },
  { name: 'vp-new', version: '1', provides: 'vprov (= 2)', priority: 'optional' },
  { name: 'vp-plain', version: '1', provides: 'vprov', priority: 'required' },
  // unversioned provides cannot satisfy a versioned dependency, a real package can
  { name: 'vu-user', version: '1', depends: 'vureal (>= 1)' },
  { name: 'vureal', version: '1.5' },
  { name: 'vu-prov', version: '1', provides: 'vureal', priority: 'required' },
  // a virtual with a versioned provide beside the real package of that name at a lower version
  { name: 'mix-user', version: '1', depends: 'mixed (>= 3)' },
  { name: 'mixed', version: '2' },
  { name: 'mix-prov', version: '1', provides: 'mixed (= 3)' },
  // or-group whose first alternative is virtual with two providers
  { name: 'or-user', version: '1', depends: 'vor | real-or' },
  { name: 'vor-a', version: '1', provides: 'vor', priority: 'optional' },
  { name: 'vor-b', version: '1', provides: 'vor', priority: 'optional' },
  { name: 'real-or', version: '1' },
  // or-group: first alternative virtual with one provider
  { name: 'or1-user', version: '1', depends: 'vone | real-one' },
  { name: 'vone-a', version: '1', provides: 'vone' },
  { name: 'real-one', version: '1' },
  // two versions: the newer conflicts with a sibling dependency
  { name: 'two-user', version: '1', depends: 'twolib, twoother' },
  { name: 'twolib', version: '1' },
  { name: 'twolib', version: '2', conflicts: 'twoother' },
  { name: 'twoother', version: '1' },
  // Recommends ignored; Pre-Depends on a virtual
  { name: 'prev-user', version: '1', preDepends: 'vpre' },
  { name: 'vpre-a', version: '1', provides: 'vpre' },
  // versioned dep satisfied by both a real old version and a provider
  { name: 'both-user', version: '1', depends: 'bothpkg (>= 2)' },
  { name: 'bothpkg', version: '1' },
  { name: 'bothpkg', version: '2' },
  { name: 'both-prov', version: '1', provides: 'bothpkg (= 5)', priority: 'required' },
  // :any on Multi-Arch allowed, :native
  { name: 'any-user', version: '1', depends: 'anylib:any' },
  { name: 'anylib', version: '1', multiArch: 'allowed' },
  { name: 'nat-user', version: '1', depends: 'natlib:native' },
  { name: 'natlib', version: '1' },
  { name: 'for-user', version: '1', depends: 'forlib' },
  { name: 'forlib', version: '1', multiArch: 'foreign' },
  // `name:any` through Provides: only a Multi-Arch: allowed provider gives it (apt's implicit `name:any`)
  { name: 'anyprov-user', version: '1', depends: 'vanyp:any' },
  { name: 'anyprov-foreign', version: '1', provides: 'vanyp', multiArch: 'foreign', priority: 'required' },
  { name: 'anyprov-allowed', version: '1', provides: 'vanyp', multiArch: 'allowed', priority: 'optional' },
  { name: 'anyprov-only-foreign', version: '1', depends: 'vanyf:any (>= 2)' },
  { name: 'anyprov-f', version: '1', provides: 'vanyf (= 2)', multiArch: 'foreign' },
  { name: 'anyprov-plain', version: '1', provides: 'vanyf (= 3)' },
  // fields apt reads in any case: Essential and Important as yes/no words, Priority's word; not package names
  { name: 'case-ess-user', version: '1', depends: 'vcase-ess' },
  { name: 'case-ess-a', version: '1', provides: 'vcase-ess', priority: 'required' },
  { name: 'case-ess-b', version: '1', provides: 'vcase-ess', essential: 'Yes', priority: 'optional' },
  { name: 'case-imp-user', version: '1', depends: 'vcase-imp' },
  { name: 'case-imp-a', version: '1', provides: 'vcase-imp', priority: 'required' },
  { name: 'case-imp-b', version: '1', provides: 'vcase-imp', important: 'YES', priority: 'optional' },
  { name: 'case-pri-user', version: '1', depends: 'vcase-pri' },
  { name: 'case-pri-a', version: '1', provides: 'vcase-pri', priority: 'Required' },
  { name: 'case-pri-b', version: '1', provides: 'vcase-pri', priority: 'optional' },
  { name: 'case-name-user', version: '1', depends: 'Case-Real' },
  { name: 'case-real', version: '1' },
  // an architecture-qualified dependency (name:native, name:amd64): apt 2.6 does not put the package of that
  // name before its providers, so its cache order decides here (natq-prov is numbered after natq)
  { name: 'natq-user', version: '1', depends: 'natq:native' },
  { name: 'natq-arch-user', version: '1', depends: 'natq:amd64' },
  { name: 'natq', version: '1' },
  { name: 'natq-prov', version: '1', provides: 'natq' },
  // Essential and Important are the package's flags in apt: one version that says yes flags the candidate too
  { name: 'pkgflag-ess-user', version: '1', depends: 'vpkgflag-ess' },
  { name: 'pkgflag-ess-a', version: '1', provides: 'vpkgflag-ess', priority: 'required' },
  { name: 'pkgflag-ess-b', version: '1', essential: true, priority: 'optional' },
  { name: 'pkgflag-ess-b', version: '2', provides: 'vpkgflag-ess', priority: 'optional' },
  { name: 'pkgflag-imp-user', version: '1', depends: 'vpkgflag-imp' },
  { name: 'pkgflag-imp-a', version: '1', provides: 'vpkgflag-imp', priority: 'important' },
  { name: 'pkgflag-imp-b', version: '1', important: true, priority: 'optional' },
  { name: 'pkgflag-imp-b', version: '2', provides: 'vpkgflag-imp', priority: 'optional' },
  // a Provides versioned with another relation than = provides nothing (apt: "Ignoring non-equal Provides")
  { name: 'neq-user', version: '1', depends: 'vneq' },
  { name: 'neq-prov', version: '1', provides: 'vneq (>= 3)', priority: 'required' },
  { name: 'neq-plain', version: '1', provides: 'vneq', priority: 'optional' },
  { name: 'neq-only-user', version: '1', depends: 'vneqonly | neq-real' },
  { name: 'neq-only-prov', version: '1', provides: 'vneqonly (<< 3)' },
  { name: 'neq-real', version: '1' },
  // arch all packages
  { name: 'all-user', version: '1', depends: 'allpkg' },
  { name: 'allpkg', version: '1', arch: 'all' },
  // name=version request
  { name: 'pinme', version: '1' },
  { name: 'pinme', version: '2', depends: 'pinme-dep' },
  { name: 'pinme-dep', version: '1' },
  // name=version is found by the version's text, not by comparing versions
  { name: 'verstr', version: '0:3' },
  { name: 'verstr2', version: '2.00' },
];

/** The hosts' dpkg status for the sets with a base: blib 1.0 and base-prov (which provides vbase). */
const STATUS = [
  { name: 'blib', version: '1.0' },
  { name: 'base-prov', version: '1', provides: 'vbase' },
]
  .map((p) =>
    [
      `Package: ${p.name}`,
      'Status: install ok installed',
      'Priority: optional',
      'Maintainer: Ferry Tests <tests@example.invalid>',
      'Architecture: amd64',
      `Version: ${p.version}`,
      p.provides && `Provides: ${p.provides}`,
      `Description: installed ${p.name}`,
      '',
    ]
      .filter((l) => l !== undefined)
      .join('\n'),
  )
  .join('\n');

const EMPTY_SETS = [
  ['natq-user'],
  ['natq-arch-user'],
  ['pkgflag-ess-user'],
  ['pkgflag-imp-user'],
  ['want-ess'],
  ['want-imp'],
  ['want-pri'],
  ['want-real'],
  ['want-ord'],
  ['want-alt'],
  ['want-deep'],
  ['want-virt-broken'],
  ['an-root'],
  ['pre-root'],
  ['mta-user'],
  ['needs-new'],
  ['needs-vbase'],
  ['vp-user'],
  ['vu-user'],
  ['mix-user'],
  ['or-user'],
  ['or1-user'],
  ['prev-user'],
  ['both-user'],
  ['any-user'],
  ['nat-user'],
  ['for-user'],
  ['anyprov-user'],
  ['case-ess-user'],
  ['case-imp-user'],
  ['case-pri-user'],
  ['neq-user'],
  ['neq-only-user'],
  ['all-user'],
  // `:all` in a request is apt's native architecture, for a package of Architecture: all or of the native one
  ['allpkg:all'],
  ['natlib:all'],
  ['pinme=1'],
  ['pinme'],
  ['pinme=1', 'pinme-dep'],
  ['verstr=0:3'],
  ['verstr2=2.00'],
];
// two-user: apt-get takes twolib's candidate (2), which conflicts with twoother, and does not go back to twolib 1
const REFUSED_SETS = [['conf-x', 'conf-y'], ['app2', 'breaker'], ['mta-a', 'mta-b'], ['two-user']];
// nothing provides vanyf:any: its providers are not Multi-Arch: allowed; nothing is named Case-Real
const UNMET_SETS = [['anyprov-only-foreign'], ['case-name-user']];
// apt-get: "Version '3' for 'verstr' was not found": the version's text differs (0:3, 2.00)
const NO_VERSION_SETS = [['verstr=3'], ['verstr2=2.0']];
const BASE_SETS = [['needs-new'], ['needs-old'], ['needs-vbase']];

/** "name version" of every package `apt-get --simulate` says it installs or upgrades */
function installs(stdout: string): string[] {
  return [...stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]!.replace(/:\S+$/, '')} ${m[2]}`).sort();
}

describe('the apt closure agrees with apt-get on a repository generated for each rule', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serveDir>>;
  let index: PackageIndex;
  let empty: Awaited<ReturnType<typeof privateApt>>;
  let withBase: Awaited<ReturnType<typeof privateApt>>;
  let base: Map<string, InstalledPackage>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-apt-oracle-'));
    const key = await writeKey(dir, 'upstream');
    const debs: string[] = [];
    for (const d of REPO) debs.push(await buildDeb(dir, d));
    await writeUpstream(join(dir, 'upstream'), debs, { suite: 'oracle', key: await readPrivate(key.secretArmored) });
    server = await serveDir(join(dir, 'upstream'));
    const packages: AptPackage[] = [];
    const gz = join(dir, 'upstream/dists/oracle/main/binary-amd64/Packages.gz');
    for await (const p of readPackagesIndex(createReadStream(gz).pipe(createGunzip()), { uri: server.url, suite: 'oracle', component: 'main' }, gz)) packages.push(p);
    index = buildPackageIndex(packages, 'amd64');
    const line = `deb [signed-by=${key.public}] ${server.url} oracle main`;
    empty = await privateApt(line);
    withBase = await privateApt(line);
    await writeFile(join(withBase.root, 'var/lib/dpkg/status'), STATUS);
    await writeFile(join(dir, 'status'), STATUS);
    base = await loadAptBase(index, { status: 'status' }, dir);
    for (const apt of [empty, withBase]) {
      const u = await apt.aptGet('update');
      expect(u.code, u.stderr).toBe(0);
    }
  });
  afterAll(() => server?.close());

  const ours = (set: string[], installed: ReadonlyMap<string, InstalledPackage> = new Map()) =>
    resolveAptClosure(index, set, { recommends: false, installed }).map((p) => `${p.name} ${p.version}`).sort();

  it.each(EMPTY_SETS.map((s) => [s.join(' '), s]))('%s on an empty system', async (_label, set) => {
    const sim = await empty.aptGet('install', '--simulate', '--no-install-recommends', ...(set as string[]));
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set as string[])).toEqual(installs(sim.stdout));
  });

  it.each(REFUSED_SETS.map((s) => [s.join(' '), s]))('%s: both refuse', async (_label, set) => {
    const sim = await empty.aptGet('install', '--simulate', '--no-install-recommends', ...(set as string[]));
    expect(sim.code, sim.stdout).not.toBe(0);
    expect(() => ours(set as string[])).toThrow(ResolveError);
    expect(() => ours(set as string[])).toThrow(/no consistent set: .* declares (Conflicts|Breaks): /);
  });

  it.each(UNMET_SETS.map((s) => [s.join(' '), s]))('%s: both refuse, a dependency nothing satisfies', async (_label, set) => {
    const sim = await empty.aptGet('install', '--simulate', '--no-install-recommends', ...(set as string[]));
    expect(sim.code, sim.stdout).not.toBe(0);
    expect(sim.stdout).toMatch(/but it is not installable/);
    expect(() => ours(set as string[])).toThrow(/cannot satisfy /);
  });

  it.each(NO_VERSION_SETS.map((s) => [s.join(' '), s]))('%s: both refuse, no such version', async (_label, set) => {
    const sim = await empty.aptGet('install', '--simulate', '--no-install-recommends', ...(set as string[]));
    expect(sim.code, sim.stdout).not.toBe(0);
    expect(sim.stdout + sim.stderr).toMatch(/E: Version '[^']+' for '[^']+' was not found/);
    expect(() => ours(set as string[])).toThrow(/=\S+ is not in the configured sources \(available: /);
  });

  it.each(BASE_SETS.map((s) => [s.join(' '), s]))('%s on hosts with a dpkg status (base: { status })', async (_label, set) => {
    const sim = await withBase.aptGet('install', '--simulate', '--no-install-recommends', ...(set as string[]));
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set as string[], base)).toEqual(installs(sim.stdout));
  });

  it('the rules decide: each set differs from what picking by name or ignoring the rule would give', () => {
    expect(ours(['want-ess'])).toContain('ess-b 1'); // Essential before Priority: required
    expect(ours(['want-real'])).toContain('realpkg 1'); // the named package before a provider of higher priority
    expect(ours(['want-alt'])).toEqual(['good-b 1', 'want-alt 1']);
    expect(ours(['want-deep'])).toContain('good-d 1');
    expect(ours(['want-virt-broken'])).toContain('vb-second 1');
    expect(ours(['an-root'])).toContain('an-b 1');
    expect(ours(['needs-new'], base)).toEqual(['blib 2.0', 'blib-dep 1', 'needs-new 1']); // the upgrade, with its own closure
    expect(ours(['needs-old'], base)).toEqual(['needs-old 1']);
    expect(ours(['needs-vbase'], base)).toEqual(['needs-vbase 1']); // base-prov's Provides count
    expect(ours(['vp-user'])).toContain('vp-new 1'); // only a Provides of a high enough version counts
    expect(ours(['vu-user'])).toContain('vureal 1.5'); // an unversioned Provides never satisfies (>= 1)
    expect(ours(['mix-user'])).toContain('mix-prov 1'); // the real package is too old; the versioned Provides is not
    expect(ours(['or-user'])).toEqual(['or-user 1', 'vor-b 1']); // a virtual first alternative still wins over a real second one
    expect(ours(['anyprov-user'])).toEqual(['anyprov-allowed 1', 'anyprov-user 1']); // not the required, but foreign, provider
    expect(ours(['case-ess-user'])).toContain('case-ess-b 1'); // Essential: Yes is Essential
    expect(ours(['case-imp-user'])).toContain('case-imp-b 1');
    expect(ours(['natq-user'])).toEqual(['natq-prov 1', 'natq-user 1']); // not natq itself, as for a plain natq
    expect(ours(['natq-arch-user'])).toEqual(['natq-arch-user 1', 'natq-prov 1']);
    expect(ours(['pkgflag-ess-user'])).toContain('pkgflag-ess-b 2'); // Essential by its version 1
    expect(ours(['pkgflag-imp-user'])).toContain('pkgflag-imp-b 2'); // Important by its version 1
    expect(ours(['case-pri-user'])).toContain('case-pri-a 1'); // Priority: Required is required
    expect(ours(['neq-user'])).toContain('neq-plain 1'); // not the required provider, whose Provides is (>= 3)
    expect(ours(['neq-only-user'])).toContain('neq-real 1');
    expect(ours(['pinme=1'])).toEqual(['pinme 1']); // name=version: that version's (empty) closure
  });
});
