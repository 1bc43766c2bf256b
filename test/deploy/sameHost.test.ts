import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import type { HostTarget } from '../../src/deploy/prepareTargets.js';
import { refuseSameHost } from '../../src/deploy/sameHost.js';

const target = (name: string, address: string, o: { port?: number; dataDir?: string; factsDir?: string; local?: boolean } = {}) =>
  ({
    host: { name, address, port: o.port, transport: o.local ? 'local' : 'ssh', vars: {}, groups: ['all'] },
    settings: { dataDir: o.dataDir ?? '/var/lib/ferry', factsDir: o.factsDir ?? `${o.dataDir ?? '/var/lib/ferry'}/facts` },
  }) as unknown as HostTarget;

describe('refuseSameHost', () => {
  it('refuses two names of one address and port with one data or facts dir, however the address is cased', () => {
    expect(() => refuseSameHost([target('a', 'api1.example'), target('b', 'API1.example')], 'inv.yaml')).toThrow(
      new SpecError('inv.yaml: a and b (API1.example, data dir /var/lib/ferry) name one host twice: a run would lock it under one name and find it locked under the other, and each name\'s facts overwrite the other\'s; keep one name per host (put it in both groups), or --limit to one of them'),
    );
    expect(() => refuseSameHost([target('a', 'h', { dataDir: '/a', factsDir: '/f' }), target('b', 'h', { dataDir: '/b', factsDir: '/f' })], 'inv.yaml')).toThrow(/a and b \(h, facts dir \/f\) name one host twice/);
    expect(() => refuseSameHost([target('a', 'x', { local: true }), target('b', 'y', { local: true })], 'inv.yaml')).toThrow(/a and b \(this machine, data dir/);
  });

  it('lets through other ports, other data and facts dirs, and other addresses', () => {
    refuseSameHost([target('a', 'h', { port: 22 }), target('b', 'h', { port: 2222 }), target('c', 'h', { port: 22, dataDir: '/srv/other' }), target('d', 'other')], 'inv.yaml');
  });
});
