import { describe, expect, it } from 'vitest';
import type { FixtureDeb } from './fixtureUpstream.js';
import { installedAtOne, simulatedInstalls as installs, useSuitesFixture } from './suitesFixture.js';

/**
 * The oracle for suites whose Release says `NotAutomatic: yes` (backports, experimental) and
 * `ButAutomaticUpgrades: yes`: apt gives their versions pin priority 1 (100), so a lower version of
 * a normal suite (500) stays the candidate, and an installed version (100) is not upgraded from a
 * NotAutomatic suite but is from a ButAutomaticUpgrades one.
 */
const MAIN: FixtureDeb[] = [
  { name: 'both', version: '1' },
  { name: 'uses-both', version: '1', depends: 'both' },
  { name: 'inst-na', version: '1' },
  { name: 'inst-bau', version: '1' },
  { name: 'past-main', version: '1' },
  { name: 'ahead', version: '1' },
];
const NA: FixtureDeb[] = [
  { name: 'both', version: '2', depends: 'na-only' },
  { name: 'na-only', version: '1' },
  { name: 'inst-na', version: '2' },
  { name: 'only-na', version: '2' },
];
const BAU: FixtureDeb[] = [
  { name: 'inst-bau', version: '2' },
  { name: 'only-bau', version: '2' },
  { name: 'past-main', version: '3' },
];

const STATUS = installedAtOne(['inst-na', 'inst-bau', 'only-na', 'only-bau', 'past-main=2', 'ahead=5']);

describe('NotAutomatic and ButAutomaticUpgrades suites: ferry picks the candidate apt-get picks', () => {
  const fx = useSuitesFixture('ferry-apt-pin-', [
    ['main', MAIN, ''],
    ['na', NA, 'NotAutomatic: yes\n'],
    ['bau', BAU, 'NotAutomatic: yes\nButAutomaticUpgrades: yes\n'],
  ], STATUS);
  const { ours } = fx;

  it.each([['uses-both'], ['both'], ['na-only']])('%s on an empty system', async (name) => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours([name])).toEqual(installs(sim.stdout));
  });

  it.each([['inst-na'], ['inst-bau'], ['only-na'], ['only-bau'], ['past-main'], ['ahead']])('%s on hosts that have version 1 (past-main 2, ahead 5)', async (name) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    const theirs = installs(sim.stdout);
    // apt-get prints nothing for "already the newest version"; ferry carries a requested package anyway
    expect(ours([name], fx.base).filter((p) => theirs.length > 0 || p !== `${name} 1`)).toEqual(theirs);
  });

  it('the pins decide', () => {
    expect(ours(['uses-both'])).toEqual(['both 1', 'uses-both 1']); // not both 2 of the NotAutomatic suite
    expect(ours(['inst-na'], fx.base)).toEqual(['inst-na 1']);
    expect(ours(['inst-bau'], fx.base)).toEqual(['inst-bau 1']); // main's 1 (500) before ButAutomaticUpgrades' 2 (100)
    expect(ours(['only-na'], fx.base)).toEqual([]); // installed (100) before NotAutomatic (1): no upgrade, nothing to carry
    expect(ours(['only-bau'], fx.base)).toEqual(['only-bau 2']); // installed and ButAutomaticUpgrades tie at 100: the newer
    // main's 1 (500) is older than the hosts' 2: it does not keep out the ButAutomaticUpgrades 3 (100, = the installed 100)
    expect(ours(['past-main'], fx.base)).toEqual(['past-main 3']);
    expect(ours(['ahead'], fx.base)).toEqual([]); // the hosts' 5 is newer than anything offered: nothing, never main's 1
  });
});
