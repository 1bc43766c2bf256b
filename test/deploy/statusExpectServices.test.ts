import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusReportSchema } from '../../src/deploy/statusReport.js';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

/**
 * `ferry status --expect` after a deploy limited with --services: the host's facts are all complete at
 * the expected bundle, yet a service the release gives the host was never deployed there. With the
 * release in the store, status counts it; without it, status says it could not look.
 */
describe('status --expect and a service a host has no fact for', () => {
  let dir: string;
  let store: string;
  let inventory: string;
  let digest: string;
  const common = () => ['--allow-local', '-i', inventory];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-status-services-'));
    store = join(dir, 'store');
    const svc = (name: string) => ({ version: '1.0.0', groups: ['app'], files: { [`${name}.txt`]: `${name}\n` }, configure: [{ file: { src: `${name}.txt`, dest: `{{ root }}/${name}.txt` } }] });
    digest = writeRelease(store, { name: 'two', version: '1', services: { web: svc('web'), db: svc('db') } });
    // another release in the store: the digest prefix must find the right one
    writeRelease(store, { name: 'other', version: '1', services: { web: svc('web') } });
    inventory = join(dir, 'inventory.yaml');
    const host = (n: string) => ({ transport: 'local', vars: { root: join(dir, n), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } });
    writeFileSync(inventory, stringify({ groups: { app: { hosts: ['h1'] }, other: { hosts: ['h2'] } }, hosts: { h1: host('h1'), h2: host('h2') } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts the missing service with the release in the store, and says it did not look without it', async () => {
    const web = await ferry(['deploy', 'two@1', '--store', store, '--push', ...common(), '--services', 'web', '--limit', 'h1']);
    expect(web.code, web.stderr).toBe(0);

    const checked = await ferry(['status', ...common(), '--limit', 'h1', '--expect', digest.slice(0, 12), '--store', store, '--json']);
    expect(checked.code, checked.stderr).toBe(72);
    const report = StatusReportSchema.parse(JSON.parse(checked.stdout));
    expect(report.expect).toEqual({ digest: digest.slice(0, 12), ok: false, off: ['h1/db has no fact: two 1 gives this host that service'], services: 'checked against two 1' });
    expect(checked.stderr).toMatch(/^ferry: not every host runs bundle \w+: h1\/db has no fact: two 1 gives this host that service$/m);

    // the facts alone look complete: exit 0, and the output says what was not checked
    const empty = join(dir, 'empty-store');
    const facts = await ferry(['status', ...common(), '--limit', 'h1', '--expect', digest.slice(0, 12), '--store', empty]);
    expect(facts.code, facts.stderr).toBe(0);
    expect(facts.stdout).toMatch(new RegExp(`^--expect ${digest.slice(0, 12)}: services a host has no fact for: not checked: store ${empty} does not exist: run ferry import first; give --store with the release to check them$`, 'm'));

    const all = await ferry(['deploy', 'two@1', '--store', store, '--push', ...common(), '--limit', 'h1']);
    expect(all.code, all.stderr).toBe(0);
    const ok = await ferry(['status', ...common(), '--limit', 'h1', '--expect', digest.slice(0, 12), '--store', store]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`--expect ${digest.slice(0, 12)}: services a host has no fact for: checked against two 1\n`);
  });

  it('a host in none of the release\'s groups is expected to run none of its services', async () => {
    const r = await ferry(['status', ...common(), '--expect', digest.slice(0, 12), '--store', store, '--json']);
    // h2 has no facts at all, and the release gives it nothing: nothing is made up for it, and it does not
    // count against the release (it did: "h2 has no facts", exit 72)
    expect(StatusReportSchema.parse(JSON.parse(r.stdout)).expect!.off).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
    // without the release nothing tells what h2 should run: it counts
    const blind = await ferry(['status', ...common(), '--expect', digest.slice(0, 12), '--store', join(dir, 'empty-store'), '--json']);
    expect(blind.code).toBe(72);
    expect(StatusReportSchema.parse(JSON.parse(blind.stdout)).expect!.off).toEqual(['h2 has no facts']);
  });
});
