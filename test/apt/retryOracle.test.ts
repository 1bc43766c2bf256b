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
