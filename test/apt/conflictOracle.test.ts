import { describe, expect, it } from 'vitest';
import { ResolveError } from '../../src/errors.js';
import type { FixtureDeb } from './fixtureUpstream.js';
import { installedStatus, simulatedInstalls as installs, useSuitesFixture } from './suitesFixture.js';

/**
 * Conflicts and Breaks against the real apt-get: an alternative that clashes with a package being
 * installed is passed over for the next one (in marking, or by apt-get's problem resolver when the clash
 * came later), and a package the hosts have that clashes with a new one is upgraded when its candidate
 * clears the clash (apt removes it otherwise, which ferry refuses).
 */
const MAIN: FixtureDeb[] = [
  { name: 'f', version: '1', conflicts: 'b (<< 2)' },
  { name: 'd', version: '1', depends: 'b | e' },
  { name: 'b', version: '1' },
  { name: 'e', version: '1' },
  { name: 'f-then-d', version: '1', depends: 'f, d' },
  { name: 'd-then-f', version: '1', depends: 'd, f' },
  { name: 'd-then-f-or', version: '1', depends: 'd, f | x' },
  { name: 'via-mid', version: '1', depends: 'mid, d' },
  { name: 'mid', version: '1', depends: 'f' },
  { name: 'k', version: '1', breaks: 'b (<< 2)' },
  { name: 'dk', version: '1', depends: 'b | e' },
  // on the hosts at 1; 2 in the sources
  { name: 'u', version: '1' },
  { name: 'u', version: '2' },
  { name: 'nc', version: '1', conflicts: 'u (<< 2)' },
  { name: 'nb', version: '1', breaks: 'u (<< 2)' },
  { name: 'nn', version: '1', conflicts: 'u (<< 3)' },
  { name: 'wants', version: '1', depends: 'nc' },
  // on the hosts at 1, whose own Conflicts/Breaks hit the new m/mb; 2 drops them
  { name: 'r', version: '1', conflicts: 'm (<< 3)' },
  { name: 'r', version: '2' },
  { name: 'm', version: '2' },
  { name: 'rb', version: '1', breaks: 'mb (<< 3)' },
  { name: 'rb', version: '2' },
  { name: 'mb', version: '2' },
];
const STATUS = installedStatus([
  ['u', '1', ''],
  ['r', '1', 'Conflicts: m (<< 3)\n'],
  ['rb', '1', 'Breaks: mb (<< 3)\n'],
]);

describe('Conflicts and Breaks: ferry passes over and upgrades what apt-get does', () => {
  const fx = useSuitesFixture('ferry-apt-conflict-', [['main', MAIN, '']], STATUS);
  const { ours } = fx;

  it.each([[['f', 'd']], [['d', 'f']], [['f-then-d']], [['d-then-f']], [['d-then-f-or']], [['via-mid']], [['k', 'dk']], [['dk', 'k']]])('%s on an empty system: e, not b', async (set) => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', ...set);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set)).toEqual(installs(sim.stdout));
    expect(ours(set)).toContain('e 1');
    expect(ours(set)).not.toContain('b 1');
  });

  it.each([[['nc']], [['nb']], [['m']], [['mb']], [['wants']], [['nc', 'u']]])('%s on hosts whose package clashes: upgraded to a candidate that does not', async (set) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', ...set);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(sim.stdout).not.toMatch(/^Remv /m);
    expect(ours(set, fx.base)).toEqual(installs(sim.stdout));
  });

  it('the upgrades are the clearing ones', () => {
    expect(ours(['nc'], fx.base)).toEqual(['nc 1', 'u 2']);
    expect(ours(['m'], fx.base)).toEqual(['m 2', 'r 2']);
  });

  it('a package of the hosts whose candidate still clashes: apt-get removes it, ferry refuses and says so', async () => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', 'nn');
    expect(sim.stdout).toMatch(/^Remv u /m);
    expect(() => ours(['nn'], fx.base)).toThrow(ResolveError);
    expect(() => ours(['nn'], fx.base)).toThrow(/^no consistent set: nn 1 declares Conflicts: u \(<< 3\), and u 1 \(on the hosts\) matches it\. apt would remove u; ferry does not remove packages from hosts\.$/);
  });
});

/**
 * A package the hosts have whose dependency the install breaks: apt-get's problem resolver upgrades it when
 * its candidate installs, else takes another alternative of the broken group, and removes it only when
 * neither works (ferry refuses then).
 */
const BROKEN: FixtureDeb[] = [
  // user (hosts: 1) needs "alt | lib (<< 2)": upgrading lib takes alt in
  { name: 'user', version: '1', depends: 'alt | lib (<< 2)' },
  { name: 'lib', version: '1' },
  { name: 'lib', version: '2' },
  { name: 'alt', version: '1' },
  // top (hosts: 1) needs the virtual v that prov 1 provides; prov 2 does not, top 2 no longer needs it
  { name: 'top', version: '1', depends: 'v' },
  { name: 'top', version: '2' },
  { name: 'prov', version: '1', provides: 'v' },
  { name: 'prov', version: '2' },
  // stuck (hosts: 1) needs "solo (<< 2)", nothing else: apt-get removes stuck
  { name: 'stuck', version: '1', depends: 'solo (<< 2)' },
  { name: 'solo', version: '1' },
  { name: 'solo', version: '2' },
];
const BROKEN_STATUS = installedStatus([
  ['user', '1', 'Depends: alt | lib (<< 2)\n'],
  ['lib', '1', ''],
  ['top', '1', 'Depends: v\n'],
  ['prov', '1', 'Provides: v\n'],
  ['stuck', '1', 'Depends: solo (<< 2)\n'],
  ['solo', '1', ''],
]);

describe('a package of the hosts whose dependency the install breaks: fixed as apt-get fixes it', () => {
  const fx = useSuitesFixture('ferry-apt-broken-', [['main', BROKEN, '']], BROKEN_STATUS);
  const { ours } = fx;

  it.each([['lib', ['alt 1', 'lib 2']], ['prov', ['prov 2', 'top 2']]])('%s', async (name, expected) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(sim.stdout).not.toMatch(/^Remv /m);
    expect(ours([name], fx.base)).toEqual(installs(sim.stdout));
    expect(ours([name], fx.base)).toEqual(expected);
  });

  it('solo: apt-get removes stuck, ferry refuses', async () => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', 'solo');
    expect(sim.stdout).toMatch(/^Remv stuck /m);
    expect(() => ours(['solo'], fx.base)).toThrow(/^no consistent set: stuck 1 on the hosts depends on "solo \(<< 2\)", which solo 2 no longer satisfies\. apt would remove or upgrade stuck; ferry does not remove packages from hosts\.$/);
  });
});

/**
 * A pick that clashes with a package the hosts have, which no upgrade clears, fails and the next alternative
 * is taken: apt-get does not remove the hosts' package for a package it only picks (it does for one that was
 * requested, which ferry refuses: `nn` above). The only solution of a requested package's dependency is
 * protected by apt, a package of the hosts included.
 */
const PROTECTED: FixtureDeb[] = [
  { name: 'keep', version: '1', conflicts: 'bad' },
  { name: 'bad', version: '1' },
  { name: 'mid', version: '1', depends: 'bad' },
  { name: 'other', version: '1' },
  { name: 'top', version: '1', depends: 'keep (<< 3), mid | other' },
  { name: 'loose', version: '1', depends: 'mid | other' },
];

describe('a pick that clashes with a package the hosts keep gives way to the next alternative', () => {
  const fx = useSuitesFixture('ferry-apt-keep-', [['main', PROTECTED, '']], installedStatus([['keep', '1', 'Conflicts: bad\n']]));
  const { ours } = fx;

  it.each([['top', ['other 1', 'top 1']], ['loose', ['loose 1', 'other 1']]])('%s: mid (whose bad clashes with keep) gives way to other', async (name, expected) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(sim.stdout).not.toMatch(/^Remv /m);
    expect(ours([name], fx.base)).toEqual(installs(sim.stdout));
    expect(ours([name], fx.base)).toEqual(expected);
  });
});

/**
 * A Breaks of the hosts' package on a name that a pick Provides makes the pick fail like one on its own name;
 * a clash that a protected package meets in an earlier pick is kept, and apt-get gives up (so does ferry).
 */
const UNSEEN: FixtureDeb[] = [
  { name: 'old', version: '1', breaks: 'virt' },
  { name: 'pv', version: '1', provides: 'virt' },
  { name: 'other2', version: '1' },
  { name: 'pv-user', version: '1', depends: 'pv | other2' },
  { name: 'm6', version: '1', conflicts: 'm4' },
  { name: 'm4', version: '1' },
  { name: 'z', version: '1' },
  { name: 'pp', version: '1', depends: 'm6 | z, m4' },
];

describe('clashes through a Provides, and with a protected package: as apt-get ends', () => {
  const fx = useSuitesFixture('ferry-apt-unseen-', [['main', UNSEEN, '']], installedStatus([['old', '1', 'Breaks: virt\n']]));
  const { ours } = fx;

  it('pv-user: pv, which provides what old breaks, gives way to other2', async () => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', 'pv-user');
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(['pv-user'], fx.base)).toEqual(installs(sim.stdout));
    expect(ours(['pv-user'], fx.base)).toEqual(['other2 1', 'pv-user 1']);
  });

  it('pp: m6 first, then m4 that pp protects: apt-get gives up, ferry refuses', async () => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', 'pp');
    expect(sim.code).not.toBe(0);
    expect(() => ours(['pp'])).toThrow(/^no consistent set: pp 1 -> m6 1 declares Conflicts: m4, and pp 1 -> m4 1 matches it\./);
  });
});
