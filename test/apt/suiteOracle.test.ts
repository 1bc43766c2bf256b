import { describe, expect, it } from 'vitest';
import { ResolveError } from '../../src/errors.js';
import type { FixtureDeb } from './fixtureUpstream.js';
import { installedAtOne, simulatedInstalls as installs, useSuitesFixture } from './suitesFixture.js';

/**
 * The oracle for `name/suite` requests (apt-get's `pkg/release`): the named package comes from that
 * suite whatever its pin, and a versioned dependency that the candidates cannot meet switches to the
 * version of the same suite (apt's SetCandidateRelease), recursively; an unversioned one, or one the
 * candidates already meet, does not. `bpo` is a backports-like suite (NotAutomatic), `up` a normal one.
 */
const MAIN: FixtureDeb[] = [
  { name: 'app', version: '1' },
  { name: 'lib', version: '1' },
  { name: 'plain', version: '1' },
  { name: 'loose', version: '1' },
  { name: 'dep', version: '1' },
  { name: 'alt', version: '1' },
  { name: 'mid', version: '1' },
  { name: 'leaf', version: '1' },
  { name: 'gone', version: '1' },
  { name: 'lib3', version: '1' },
  { name: 'user', version: '1', depends: 'lib3 (>= 1)' },
  { name: 'only-main', version: '1' },
  { name: 'either', version: '1' },
  { name: 'needy', version: '2', depends: 'helper' },
  { name: 'helper', version: '1' },
];
const BPO: FixtureDeb[] = [
  { name: 'app', version: '2', depends: 'lib (>= 2)' },
  { name: 'lib', version: '2' },
  { name: 'plain', version: '2', depends: 'loose' },
  { name: 'loose', version: '2' },
  { name: 'tool', version: '2', depends: 'dep (>= 2) | alt' },
  { name: 'dep', version: '2' },
  { name: 'deep', version: '2', depends: 'mid (>= 2)' },
  { name: 'mid', version: '2', depends: 'leaf (>= 2)' },
  { name: 'leaf', version: '2' },
  { name: 'stuck', version: '2', depends: 'gone (>= 3)' },
  { name: 'gone', version: '2' },
  { name: 'pick', version: '2', depends: 'nothere (>= 2) | either (>= 2)' },
  { name: 'either', version: '2' },
  { name: 'needy', version: '3' },
  { name: 'wants-needy', version: '2', depends: 'needy (>= 2)' },
];
const UP: FixtureDeb[] = [{ name: 'lib3', version: '3' }];

const STATUS = installedAtOne(['lib']);

describe('name/suite requests: ferry picks what apt-get install pkg/release picks', () => {
  const fx = useSuitesFixture('ferry-apt-suite-', [
    ['main', MAIN, ''],
    ['bpo', BPO, 'NotAutomatic: yes\nButAutomaticUpgrades: yes\n'],
    ['up', UP, ''],
  ], STATUS);
  const { ours } = fx;

  it.each(['app/bpo', 'plain/bpo', 'tool/bpo', 'deep/bpo', 'pick/bpo', 'user/main', 'lib3/main', 'app/main', 'app', 'lib/bpo', 'app/bpo plain', 'wants-needy/bpo'])('%s on an empty system', async (request) => {
    const set = request.split(' ');
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', ...set);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set)).toEqual(installs(sim.stdout));
  });

  it('app/bpo on hosts that have lib 1: apt-get upgrades lib from the suite, and so does ferry', async () => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', 'app/bpo');
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(['app/bpo'], fx.base)).toEqual(installs(sim.stdout));
  });

  it('the suite decides only what the candidates cannot meet', () => {
    expect(ours(['app/bpo'])).toEqual(['app 2', 'lib 2']); // lib (>= 2): switched to the suite's lib
    expect(ours(['plain/bpo'])).toEqual(['loose 1', 'plain 2']); // no version asked: main's loose stays
    expect(ours(['tool/bpo'])).toEqual(['alt 1', 'tool 2']); // the or-group is met by alt: nothing switched
    expect(ours(['deep/bpo'])).toEqual(['deep 2', 'leaf 2', 'mid 2']); // the switch follows mid's own needs
    expect(ours(['user/main'])).toEqual(['lib3 3', 'user 1']); // lib3 3 (up) already meets lib3 (>= 1)
    // main's needy 2 meets needy (>= 2) but would not install as the hosts are (it needs helper): switched
    expect(ours(['wants-needy/bpo'])).toEqual(['needy 3', 'wants-needy 2']);
  });

  it('a request both tools refuse: a dependency no version of the suite meets, a package the suite does not have', async () => {
    for (const name of ['stuck/bpo', 'only-main/bpo', 'app/nosuch']) {
      const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', name);
      expect(sim.code, `${name}: ${sim.stdout}`).not.toBe(0);
      expect(() => ours([name]), name).toThrow(ResolveError);
    }
    expect(() => ours(['only-main/bpo'])).toThrow(/the suite bpo has no only-main for amd64 \(main has 1\)/);
    expect(() => ours(['app=2/bpo'])).toThrow(/name, name=version or name\/suite/);
  });
});

/**
 * apt-get marks every request first and switches candidates for `name/suite` requests after that: a switch
 * reaches a package requested plainly or at a version in either order, and whether the normal candidate
 * "would install" is judged with the requested packages counted as installed (self needs itself or alt).
 */
const ORDER_MAIN: FixtureDeb[] = [
  { name: 'six', version: '2', depends: 'dep6' },
  { name: 'dep6', version: '1' },
  { name: 'self', version: '2', depends: 'alt-none | self' },
  { name: 'four', version: '1' },
];
const ORDER_EXTRA: FixtureDeb[] = [
  { name: 'six', version: '3' },
  { name: 'self', version: '3' },
  { name: 'four', version: '3', depends: 'six (<= 3), self (<= 3)' },
];

describe('name/suite with other requests: the switch comes after every request is marked, as in apt-get', () => {
  const fx = useSuitesFixture('ferry-apt-suite-order-', [['main', ORDER_MAIN, ''], ['extra', ORDER_EXTRA, 'NotAutomatic: yes\n']], '');
  const { ours } = fx;

  it.each([
    [['four/extra'], ['four 3', 'self 3', 'six 3']],
    [['four/extra', 'six'], ['four 3', 'self 3', 'six 3']],
    [['six', 'four/extra'], ['four 3', 'self 3', 'six 3']],
    [['four/extra', 'six=2'], ['four 3', 'self 3', 'six 3']],
    [['four/extra', 'self'], ['four 3', 'self 2', 'six 3']],
  ])('%s', async (set, expected) => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', ...set);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set)).toEqual(installs(sim.stdout));
    expect(ours(set)).toEqual(expected);
  });
});

/**
 * `name/suite` or `name=version` that finds no version of that name: apt-get takes the packages that provide
 * the name from that suite (or at exactly that version), when they are all one package (tryVirtualPackage),
 * a real package's name too; two such packages, or none, and both refuse.
 */
const PROV_MAIN: FixtureDeb[] = [
  { name: 'real', version: '1' },
  { name: 'lib', version: '1' },
  { name: 'prov', version: '1', provides: 'real, virt' },
  { name: 'other', version: '1', provides: 'virt2' },
];
const PROV_EXTRA: FixtureDeb[] = [
  { name: 'lib', version: '2' },
  { name: 'prov', version: '2', provides: 'real (= 7), virt', depends: 'lib (>= 2)' },
  { name: 'solo', version: '2', provides: 'real (= 8)' },
  { name: 'other', version: '2', provides: 'virt2' },
  { name: 'third', version: '2', provides: 'virt2' },
];

describe('name/suite and name=version that only a provider matches: the provider apt-get takes', () => {
  const fx = useSuitesFixture('ferry-apt-suite-prov-', [['main', PROV_MAIN, ''], ['extra', PROV_EXTRA, 'NotAutomatic: yes\n']], '');
  const { ours } = fx;

  it.each([
    [['virt/extra'], ['lib 2', 'prov 2']],
    [['real=8'], ['solo 2']],
    [['real=1'], ['real 1']],
  ])('%s', async (set, expected) => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', ...set);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set)).toEqual(installs(sim.stdout));
    expect(ours(set)).toEqual(expected);
  });

  it.each([['virt2/extra'], ['real/extra'], ['real=7'], ['virt=7']])('%s: both refuse', async (request) => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', request);
    expect(sim.code, sim.stdout).not.toBe(0);
    expect(() => ours([request])).toThrow(ResolveError);
  });
});
