import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResolveError, SpecError } from '../../src/errors.js';
import { loadAptBase } from '../../src/sources/apt/loadAptBase.js';
import { resolveAptClosure } from '../../src/sources/apt/resolveAptClosure.js';
import type { FixtureDeb } from './fixtureUpstream.js';
import { installedStatus, simulatedInstalls as installs, useSuitesFixture } from './suitesFixture.js';

/**
 * The oracle for a reference host's dpkg status (`base: { status }`) whose packages are in other states
 * than "installed": apt counts the version of every package that is not `not-installed` or `config-files`
 * as installed (unpacked, half-configured, awaiting triggers: dpkg has its files), so a dependency that
 * version meets installs nothing; a package left with its config files only is not installed.
 */
const STATES = ['install ok unpacked', 'install ok half-configured', 'install ok triggers-pending', 'install ok triggers-awaited', 'deinstall ok config-files', 'install ok installed'];

const MAIN: FixtureDeb[] = STATES.flatMap((_, i) => [
  { name: `user${i}`, version: '1', depends: `dep${i} (>= 1)` },
  { name: `dep${i}`, version: '2' },
]);

const STATUS = STATES.map(
  (state, i) =>
    `Package: dep${i}\nStatus: ${state}\nPriority: optional\nMaintainer: T <t@example.invalid>\nArchitecture: amd64\nVersion: 1\n` +
    `${state.endsWith('config-files') ? 'Conffiles:\n /etc/dep 0123456789abcdef0123456789abcdef\n' : ''}Description: dep${i}\n`,
).join('\n');

describe('a dpkg status with packages unpacked, half-configured, awaiting triggers or left as config files: ferry takes them as apt-get does', () => {
  const fx = useSuitesFixture('ferry-apt-status-', [['main', MAIN, '']], STATUS);

  it.each(STATES.map((state, i) => [state, i]))('a dependency on a package in state "%s"', async (_state, i) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', `user${i}`);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(fx.ours([`user${i}`], fx.base)).toEqual(installs(sim.stdout));
  });

  it('the state decides', () => {
    expect(fx.ours(['user0'], fx.base)).toEqual(['user0 1']); // unpacked 1 meets dep0 (>= 1): no upgrade carried
    expect(fx.ours(['user4'], fx.base)).toEqual(['dep4 2', 'user4 1']); // config files only: not installed
  });
});

/**
 * `name:any` met by a package the hosts have: only when their dpkg status says `Multi-Arch: allowed`, as
 * apt reads it; otherwise apt upgrades to a candidate that allows it, or refuses.
 */
const ANY_MAIN: FixtureDeb[] = [
  { name: 'anyuser-foreign', version: '1', depends: 'hostsforeign:any' },
  { name: 'hostsforeign', version: '1', multiArch: 'foreign' },
  { name: 'anyuser-allowed', version: '1', depends: 'hostsallowed:any' },
  { name: 'hostsallowed', version: '1', multiArch: 'allowed' },
  { name: 'anyuser-virtual', version: '1', depends: 'vhosts:any' },
  { name: 'hostsprovider', version: '1', provides: 'vhosts', multiArch: 'foreign' },
  { name: 'anyuser-plain', version: '1', depends: 'hostsplain:any' },
  { name: 'hostsplain', version: '1' },
  { name: 'anyuser-upgrade', version: '1', depends: 'hostsnowallowed:any' },
  { name: 'hostsnowallowed', version: '2', multiArch: 'allowed' },
];
const ANY_STATUS = installedStatus([
  ['hostsforeign', '1', 'Multi-Arch: foreign\n'],
  ['hostsallowed', '1', 'Multi-Arch: allowed\n'],
  ['hostsprovider', '1', 'Multi-Arch: foreign\nProvides: vhosts\n'],
  ['hostsplain', '1', ''],
  ['hostsnowallowed', '1', ''],
]);

describe('name:any and the Multi-Arch of what the hosts have (dpkg status): ferry takes it as apt-get does', () => {
  const fx = useSuitesFixture('ferry-apt-status-any-', [['main', ANY_MAIN, '']], ANY_STATUS);

  it.each([['anyuser-allowed'], ['anyuser-upgrade']])('%s: both install the same', async (name) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(fx.ours([name], fx.base)).toEqual(installs(sim.stdout));
  });

  it.each([['anyuser-foreign'], ['anyuser-virtual'], ['anyuser-plain']])('%s: the hosts\' package is not Multi-Arch: allowed, both refuse', async (name) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', name);
    expect(sim.code, sim.stdout).not.toBe(0);
    expect(sim.stdout).toMatch(/:any but it is not installable/);
    expect(() => fx.ours([name], fx.base)).toThrow(/cannot satisfy "\S+:any" needed by /);
  });

  it('the Multi-Arch decides', () => {
    expect(fx.ours(['anyuser-upgrade'], fx.base)).toEqual(['anyuser-upgrade 1', 'hostsnowallowed 2']); // 1 on the hosts has no Multi-Arch
  });
});

/**
 * Packages the hosts hold (dpkg status "hold ok installed"): apt changes one only when it is requested
 * (IsInstallOkHold), never to meet a dependency, so a dependency that needs its newer version takes another
 * alternative or is not met.
 */
const HELD_MAIN: FixtureDeb[] = [
  { name: 'needs-held', version: '1', depends: 'heldlib (>= 2)' },
  { name: 'heldlib', version: '2' },
  { name: 'needs-held-or', version: '1', depends: 'heldalt (>= 2) | otheralt' },
  { name: 'heldalt', version: '2' },
  { name: 'otheralt', version: '1' },
  { name: 'heldasked', version: '2' },
];
const HELD_STATUS = installedStatus(['heldlib', 'heldalt', 'heldasked'].map((n) => [n, '1', ''] as const)).replaceAll('Status: install ok installed', 'Status: hold ok installed');

describe('packages the hosts hold: ferry changes them only when requested, as apt-get does', () => {
  const fx = useSuitesFixture('ferry-apt-status-held-', [['main', HELD_MAIN, '']], HELD_STATUS);

  it.each([['needs-held-or'], ['heldasked']])('%s: both install the same', async (name) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(fx.ours([name], fx.base)).toEqual(installs(sim.stdout));
  });

  it('needs-held: the held version does not meet the dependency, both refuse', async () => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', 'needs-held');
    expect(sim.code, sim.stdout).not.toBe(0);
    expect(sim.stdout).toMatch(/Depends: heldlib \(>= 2\) but 1 is to be installed/);
    expect(() => fx.ours(['needs-held'], fx.base)).toThrow(/needs-held 1 -> heldlib 2: the hosts hold heldlib at 1 \(dpkg hold\)/);
  });

  it('the hold decides', () => {
    expect(fx.ours(['needs-held-or'], fx.base)).toEqual(['needs-held-or 1', 'otheralt 1']); // not heldalt 2
    expect(fx.ours(['heldasked'], fx.base)).toEqual(['heldasked 2']); // requested: changed
  });
});

/**
 * A relation field of the hosts' status that ends with "|": apt reads the status as it reads an index, so the
 * group runs on into the next field's first group (q `Depends: ghost |` and `Recommends: b (<< 2)` is q
 * depending on "ghost | b (<< 2)"), and a last field ending so makes apt-get crash on any install.
 */
describe('a dpkg status whose relation field ends with "|": ferry reads it as apt-get does', () => {
  const fx = useSuitesFixture('ferry-apt-status-or-', [['main', [{ name: 'b', version: '1' }, { name: 'b', version: '2' }], '']], installedStatus([['b', '1', '']]));
  /** the status of the hosts: q 1 with `fields`, and b 1; apt-get's answer to `apt-get install b`, and ferry's base */
  const withQ = async (fields: string) => {
    const status = installedStatus([['q', '1', fields], ['b', '1', '']]);
    await writeFile(join(fx.withBase.root, 'var/lib/dpkg/status'), status);
    await writeFile(join(fx.withBase.root, 'ferry-status'), status);
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', 'b');
    return { sim, base: () => loadAptBase(fx.index, { status: 'ferry-status' }, fx.withBase.root) };
  };

  it('q Depends: ghost | and Recommends: b (<< 2): b 2 would break q; apt-get refuses, and so does ferry', async () => {
    const r = await withQ('Depends: ghost |\nRecommends: b (<< 2)\n');
    expect(r.sim.code, r.sim.stdout).not.toBe(0);
    expect(r.sim.stdout + r.sim.stderr).toMatch(/pkgProblemResolver::Resolve generated breaks/);
    const base = await r.base();
    expect(base.get('q')!.depends).toBe('ghost | b (<< 2)');
    expect(() => fx.ours(['b'], base)).toThrow(/^no consistent set: q 1 on the hosts depends on "ghost \| b \(<< 2\)", which b 2 no longer satisfies/);
  });

  it('q Recommends: b | (its last relation field): apt-get crashes; ferry refuses the status (one line)', async () => {
    const r = await withQ('Recommends: b |\n');
    expect(r.sim.code).toBe(-1);
    const err = await r.base().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpecError);
    expect((err as Error).message).toMatch(/^\S+ferry-status: package q 1: its Recommends ends with "\|" and no relation follows it in apt's order of the fields, on which apt-get crashes \(segfault\) whatever it installs; refusing this status$/);
  });
});

/**
 * An Essential package of the hosts, which apt never removes: a pick whose own Conflicts hit it is not taken.
 * The next alternative is (Depends or Recommends), a Recommends with none is skipped, a Depends with none is
 * refused. (A package of the hosts that is not Essential, apt-get removes: ferry refuses.)
 */
const ESS_MAIN: FixtureDeb[] = [
  { name: 'esshost', version: '1' },
  { name: 'ess-clasher', version: '1', conflicts: 'esshost' },
  { name: 'ess-other', version: '1' },
  { name: 'ess-rec', version: '1', recommends: 'ess-clasher' },
  { name: 'ess-rec-or', version: '1', recommends: 'ess-clasher | ess-other' },
  { name: 'ess-dep-or', version: '1', depends: 'ess-clasher | ess-other' },
  { name: 'ess-dep', version: '1', depends: 'ess-clasher' },
];
const ESS_STATUS = installedStatus([['esshost', '1', 'Essential: yes\n']]);

describe('an Essential package of the hosts that a pick conflicts with: apt-get takes another, or none', () => {
  const fx = useSuitesFixture('ferry-apt-status-ess-', [['main', ESS_MAIN, '']], ESS_STATUS);
  const ours = (name: string) => resolveAptClosure(fx.index, [name], { recommends: true, installed: fx.base }).map((p) => `${p.name} ${p.version}`).sort();

  it.each([
    ['ess-rec', ['ess-rec 1']],
    ['ess-rec-or', ['ess-other 1', 'ess-rec-or 1']],
    ['ess-dep-or', ['ess-dep-or 1', 'ess-other 1']],
  ])('%s', async (name, expected) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(name)).toEqual(installs(sim.stdout));
    expect(ours(name)).toEqual(expected);
  });

  it('ess-dep: both refuse', async () => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--install-recommends', 'ess-dep');
    expect(sim.code, sim.stdout).not.toBe(0);
    expect(() => ours('ess-dep')).toThrow(ResolveError);
  });
});
