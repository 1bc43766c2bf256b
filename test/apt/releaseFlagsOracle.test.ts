import { describe, expect, it } from 'vitest';
import type { FixtureDeb } from './fixtureUpstream.js';
import { installedAtOne, simulatedInstalls as installs, useSuitesFixture } from './suitesFixture.js';

/**
 * A Release's NotAutomatic and ButAutomaticUpgrades read as apt reads them (StringToBool): "Yes", "1",
 * "True" are yes, so the suite is pinned at 1 (100 with ButAutomaticUpgrades) and apt-get takes the older
 * version of the default suite; a value apt does not know ("1abc") is no (apt warns). Each suite holds the
 * version 2 of one package that the main suite has at version 1; w 2 is only in suite bau, and the hosts
 * have w 1.
 */
const MAIN: FixtureDeb[] = ['x', 'y', 'z', 'v'].map((name) => ({ name, version: '1' }));

describe("a Release's yes/no flags: ferry pins a suite as apt-get does", () => {
  const fx = useSuitesFixture('ferry-apt-flags-', [
    ['main', MAIN, ''],
    ['na-yes', [{ name: 'x', version: '2' }], 'NotAutomatic: Yes\n'],
    ['na-one', [{ name: 'y', version: '2' }], 'NotAutomatic: 1\n'],
    ['na-true', [{ name: 'z', version: '2' }], 'NotAutomatic: True\n'],
    ['bau', [{ name: 'w', version: '2' }], 'NotAutomatic: yes\nButAutomaticUpgrades: Yes\n'],
    ['unknown', [{ name: 'v', version: '2' }], 'NotAutomatic: 1abc\n'],
  ], installedAtOne(['w']));
  const { ours } = fx;

  it('on an empty system: version 1 from main except v (NotAutomatic unknown, so no) and w (only in bau)', async () => {
    const set = ['x', 'y', 'z', 'w', 'v'];
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', ...set);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set)).toEqual(installs(sim.stdout));
    expect(ours(set)).toEqual(['v 2', 'w 2', 'x 1', 'y 1', 'z 1']);
  });

  it('w 1 installed: ButAutomaticUpgrades "Yes" pins bau at 100, not 1, so w is upgraded to 2 as apt-get does', async () => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--no-install-recommends', 'w');
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(['w'], fx.base)).toEqual(installs(sim.stdout));
    expect(ours(['w'], fx.base)).toEqual(['w 2']);
  });
});
