import { describe, expect, it } from 'vitest';
import type { FixtureDeb } from './fixtureUpstream.js';
import { installedAtOne, simulatedInstalls as installs, useSuitesFixture } from './suitesFixture.js';

/**
 * An alternative that failed while another was being tried is tried again once that one is given up
 * (a package refused on a clash keeps its candidate): `e` needs `a | c`; `a` needs
 * `c`, which conflicts with `a`, so `a` fails, and `c` (refused while `a` was marked) is then taken.
 * Found by a randomized comparison with apt-get.
 */
const MAIN: FixtureDeb[] = [
  { name: 'e', version: '1', depends: 'a | c' },
  { name: 'a', version: '2', depends: 'c' },
  { name: 'c', version: '3', conflicts: 'a' },
];

describe('an alternative refused during a failed attempt is tried again, as apt-get does', () => {
  const fx = useSuitesFixture('ferry-apt-retry-', [['main', MAIN, '']], installedAtOne([]));
  const { ours } = fx;

  it('e: a fails on c, then c alone', async () => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', 'e');
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(['e'])).toEqual(installs(sim.stdout));
    expect(ours(['e'])).toEqual(['c 3', 'e 1']);
  });
});

/**
 * What a failed attempt marked on the way stays marked while apt marks, but apt-get install then drops a new
 * package that nothing needs any more (a new install that is already garbage): `r: a | c`; `a` marks `x`,
 * then fails on `y` (which needs a package nowhere); `c` is taken and `x` is not installed.
 */
const LEFTOVER: FixtureDeb[] = [
  { name: 'r', version: '1', depends: 'a | c' },
  { name: 'a', version: '1', depends: 'x, y' },
  { name: 'x', version: '1' },
  { name: 'y', version: '1', depends: 'nowhere' },
  { name: 'c', version: '1' },
  { name: 'keeps-x', version: '1', depends: 'r, x' },
];

describe('a package only a failed attempt marked is not installed, as apt-get drops it', () => {
  const fx = useSuitesFixture('ferry-apt-leftover-', [['main', LEFTOVER, '']], installedAtOne([]));
  const { ours } = fx;

  it.each([[['r'], ['c 1', 'r 1']], [['keeps-x'], ['c 1', 'keeps-x 1', 'r 1', 'x 1']], [['r', 'x'], ['c 1', 'r 1', 'x 1']]])('%s', async (set, expected) => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', ...set);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set)).toEqual(installs(sim.stdout));
    expect(ours(set)).toEqual(expected);
  });
});

/**
 * A package whose own dependency failed loses its candidate (apt's MarkInstall_DiscardInstall, then
 * MarkInstall_DiscardCandidate), so a later dependency on it cannot be met, though it could be by then:
 * `r: m | alt`; `m` needs `p`, `p` needs `q`, and `q` breaks `m` (being marked then), so `q`, `p` and `m`
 * fail and `alt` is taken; `s` then needs `p`, which has no candidate any more: apt-get refuses `r s`,
 * while `s` alone installs. Found on random oracle archives (seed 120339 of a denser generator).
 */
const DISCARD: FixtureDeb[] = [
  { name: 'r', version: '1', depends: 'm | alt' },
  { name: 'm', version: '1', depends: 'p' },
  { name: 'p', version: '1', depends: 'q' },
  { name: 'q', version: '1', breaks: 'm' },
  { name: 'alt', version: '1' },
  { name: 's', version: '1', depends: 'p' },
];

describe('a package whose dependency failed is not tried again, as apt-get drops its candidate', () => {
  const fx = useSuitesFixture('ferry-apt-discard-', [['main', DISCARD, '']], installedAtOne([]));
  const { ours } = fx;

  it('r s: both refuse', async () => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', 'r', 's');
    expect(sim.code, sim.stdout).not.toBe(0);
    expect(() => ours(['r', 's'])).toThrow(/^cannot satisfy /);
  });

  it.each([[['s'], ['p 1', 'q 1', 's 1']], [['r'], ['alt 1', 'r 1']], [['s', 'r'], ['alt 1', 'p 1', 'q 1', 'r 1', 's 1']]])('%s', async (set, expected) => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', ...set);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set)).toEqual(installs(sim.stdout));
    expect(ours(set)).toEqual(expected);
  });
});
