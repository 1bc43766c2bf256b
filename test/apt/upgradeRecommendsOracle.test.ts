import { describe, expect, it } from 'vitest';
import { resolveAptClosure } from '../../src/sources/apt/resolveAptClosure.js';
import type { FixtureDeb } from './fixtureUpstream.js';
import { installedStatus, simulatedInstalls as installs, useSuitesFixture } from './suitesFixture.js';

/**
 * Recommends of an upgrade, against `apt-get install --simulate --install-recommends` on hosts with a dpkg
 * status: apt-get follows only a Recommends that names no package the installed version already
 * recommended (one missing then was left out on purpose), and a package upgraded to clear a Conflicts is
 * upgraded without following its Recommends. A recommended package that conflicts with a package of the
 * hosts that a requested one needs is skipped.
 */
const MAIN: FixtureDeb[] = [
  { name: 'same', version: '1', recommends: 'r' },
  { name: 'same', version: '2', recommends: 'r' },
  { name: 'added', version: '1' },
  { name: 'added', version: '2', recommends: 'r' },
  { name: 'changed', version: '1', recommends: 'r' },
  { name: 'changed', version: '2', recommends: 'r2' },
  { name: 'narrowed', version: '1', recommends: 'r | r2' },
  { name: 'narrowed', version: '2', recommends: 'r2' },
  { name: 'widened', version: '1', recommends: 'r2' },
  { name: 'widened', version: '2', recommends: 'r2 | r' },
  { name: 'r', version: '1' },
  { name: 'r2', version: '1' },
  // old 1 on the hosts conflicts with new; old 2 does not, and recommends r
  { name: 'old', version: '1', conflicts: 'new' },
  { name: 'old', version: '2', recommends: 'r' },
  { name: 'new', version: '1' },
  // keeper needs base2, which the hosts have (apt protects it): the recommended clasher conflicts with it
  { name: 'keeper', version: '1', depends: 'base2', recommends: 'clasher' },
  { name: 'base2', version: '1' },
  { name: 'clasher', version: '1', conflicts: 'base2' },
];
const STATUS = installedStatus([
  ['same', '1', 'Recommends: r\n'],
  ['added', '1', ''],
  ['changed', '1', 'Recommends: r\n'],
  ['narrowed', '1', 'Recommends: r | r2\n'],
  ['widened', '1', 'Recommends: r2\n'],
  ['old', '1', 'Conflicts: new\n'],
  ['base2', '1', ''],
]);

describe('Recommends of upgrades: ferry takes the ones apt-get takes', () => {
  const fx = useSuitesFixture('ferry-apt-uprec-', [['main', MAIN, '']], STATUS);
  const ours = (set: string[]) => resolveAptClosure(fx.index, set, { recommends: true, installed: fx.base }).map((p) => `${p.name} ${p.version}`).sort();

  it.each([
    ['same', ['same 2']],
    ['added', ['added 2', 'r 1']],
    ['changed', ['changed 2', 'r2 1']],
    ['narrowed', ['narrowed 2']],
    ['widened', ['widened 2']],
    ['new', ['new 1', 'old 2']],
    ['keeper', ['keeper 1']],
  ])('%s', async (name, expected) => {
    const sim = await fx.withBase.aptGet('install', '--simulate', '--install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours([name])).toEqual(installs(sim.stdout));
    expect(ours([name])).toEqual(expected);
  });
});
