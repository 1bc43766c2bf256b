import { describe, expect, it } from 'vitest';
import type { FixtureDeb } from './fixtureUpstream.js';
import { installedAtOne, simulatedInstalls as installs, useSuitesFixture } from './suitesFixture.js';

/**
 * An alternative that failed while another was being tried is tried again once that one is given up
 * (apt's MarkInstall_DiscardInstall drops the install, not the candidate): `e` needs `a | c`; `a` needs
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
