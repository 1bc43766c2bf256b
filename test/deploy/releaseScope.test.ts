import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

const KEY = { path: 'keys/bundle.asc', content: 'key\n', kind: 'key' as const, services: [] };

/**
 * A signing policy trusts keys per release name, but a release's services choose the groups they run on: a
 * release of site-mirror (its signer trusted for that name only) naming group web ran its steps on the app
 * team's hosts when an operator deployed it with the whole inventory. `ferry_releases` (globs) says which
 * release names may run on a host; any other is refused before any host is touched (exit 65, one line).
 */
describe('ferry_releases: the release names a host takes', () => {
  let dir: string;
  let store: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-release-scope-'));
    store = join(dir, 'store');
    writeRelease(store, { name: 'site-mirror', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ command: { run: 'true' } }] } }, extra: [KEY] });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const inventory = (doc: Record<string, unknown>) => {
    const file = join(dir, `inventory-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stringify(doc));
    return file;
  };
  // hosts nobody listens for: a refusal comes before any connection
  const hosts = { h1: { address: '127.0.0.1', port: 1 }, h2: { address: '127.0.0.1', port: 1 }, m1: { address: '127.0.0.1', port: 1 } };

  it.each(['plan', 'deploy'])('%s: a release whose services reach a host that does not take its name is refused (65, one line), naming the hosts', async (verb) => {
    const file = inventory({ groups: { web: { hosts: ['h1', 'h2', 'm1'], vars: { ferry_releases: ['app-*'] } } }, hosts: { ...hosts, m1: { ...hosts.m1, vars: { ferry_releases: 'site-*' } } } });
    const r = await ferry([verb, 'site-mirror@1', '-i', file, '--store', store, '--server', 'http://127.0.0.1:1']);
    expect(r.code, r.stderr).toBe(65);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ferry: site-mirror 1: hosts h1, h2 take releases app-\* only \(ferry_releases\), and its service web runs on them \(group web\); nothing was done: deploy it to other hosts \(--limit\) or add site-mirror to their ferry_releases$/);
  });

  it('a host whose ferry_releases matches the name, and a host without ferry_releases, are not refused', async () => {
    const file = inventory({ vars: { ferry_releases: ['site-*', 'app-*'] }, groups: { web: { hosts: ['m1'] } }, hosts: { m1: hosts.m1 } });
    const r = await ferry(['plan', 'site-mirror@1', '-i', file, '--store', store]);
    // the plan gets as far as asking the host (nobody listens there)
    expect(r.stderr).not.toContain('ferry_releases');
    const open = inventory({ groups: { web: { hosts: ['m1'] } }, hosts: { m1: hosts.m1 } });
    expect((await ferry(['plan', 'site-mirror@1', '-i', open, '--store', store])).stderr).not.toContain('ferry_releases');
  });

  it('--limit to the hosts that take it: not refused', async () => {
    const file = inventory({ groups: { web: { hosts: ['h1', 'm1'] } }, hosts: { h1: { ...hosts.h1, vars: { ferry_releases: ['app-*'] } }, m1: hosts.m1 } });
    const r = await ferry(['plan', 'site-mirror@1', '-i', file, '--store', store, '--limit', 'm1']);
    expect(r.stderr).not.toContain('ferry_releases');
  });

  it('a ferry_releases that is not a glob or a list of globs is refused (65)', async () => {
    const file = inventory({ groups: { web: { hosts: ['m1'] } }, hosts: { m1: { ...hosts.m1, vars: { ferry_releases: [{ x: 1 }] } } } });
    const r = await ferry(['plan', 'site-mirror@1', '-i', file, '--store', store]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/ferry_releases must be a release name glob or a list of them/)]);
  });
});
