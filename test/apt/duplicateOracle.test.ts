import { describe, expect, it } from 'vitest';
import type { FixtureDeb } from './fixtureUpstream.js';
import { simulatedInstalls as installs, useSuitesFixture } from './suitesFixture.js';

/**
 * One package requested more than once, as apt-get takes it: `name/suite` wins over `name` and
 * `name=version` in any order; between `name` and `name=version` the later one wins.
 */
const MAIN: FixtureDeb[] = [
  { name: 'p', version: '1' },
  { name: 'p', version: '2' },
];
const EXTRA: FixtureDeb[] = [{ name: 'p', version: '3' }];

describe('a package requested twice: the request apt-get honours', () => {
  const fx = useSuitesFixture('ferry-apt-dup-', [['main', MAIN, ''], ['extra', EXTRA, 'NotAutomatic: yes\n']], '');
  const { ours } = fx;

  it.each([
    [['p/extra', 'p'], ['p 3']],
    [['p', 'p/extra'], ['p 3']],
    [['p=1', 'p/extra'], ['p 3']],
    [['p/extra', 'p=1'], ['p 3']],
    [['p=1', 'p'], ['p 2']],
    [['p', 'p=1'], ['p 1']],
    [['p=1', 'p=2'], ['p 2']],
    [['p=2', 'p=1'], ['p 1']],
    [['p', 'p'], ['p 2']],
    // the same package with an architecture qualifier (the native one, :native, :all)
    [['p', 'p:amd64=1'], ['p 1']],
    [['p:amd64=1', 'p'], ['p 2']],
    [['p:native=1', 'p:amd64'], ['p 2']],
    [['p:amd64', 'p=1'], ['p 1']],
    [['p:amd64/extra', 'p=1'], ['p 3']],
    [['p=1', 'p:amd64/extra'], ['p 3']],
    [['p:all=1', 'p'], ['p 2']],
  ])('%s', async (set, expected) => {
    const sim = await fx.empty.aptGet('install', '--simulate', '--no-install-recommends', ...set);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours(set)).toEqual(installs(sim.stdout));
    expect(ours(set)).toEqual(expected);
  });

  it('two suites for one package are refused', () => {
    expect(() => ours(['p/extra', 'p/main'])).toThrow(/^p is requested from two suites \(p\/extra and p\/main\): keep one$/);
  });
});
