import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { labInventory, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/** An inventory of more hosts than the release deploys to (the usual site: other groups run other releases). */
describe('--max-fail-percent over an inventory where the release reaches some hosts only', () => {
  const ctx = useLab('failscope', ['w1', 'w2', 'o1', 'o2']);

  it('counts the hosts the release deploys to, not the hosts it only holds: 1 of 2 failed is over 25 %, and w2 is not touched', async () => {
    const { lab, store, server, dir } = ctx;
    for (const h of lab.hosts) resetHost(h);
    writeRelease(store, { name: 'scope', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const doc = parse(labInventory(lab.hosts, { ferry_server: server.url }, { w1: { fail: 'yes' }, w2: { fail: 'yes' } }).text);
    doc.groups.web.hosts = ['w1', 'w2'];
    doc.groups.other = { hosts: ['o1', 'o2'] };
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, stringify(doc));
    const r = await runFerry('deploy', 'scope@1', '--store', store, '-i', inv, '-F', lab.sshConfig, '--serial', '1', '--max-fail-percent', '25');
    expect(r.code).toBe(72);
    const configured = (n: string) => existsSync(join(lab.hosts.find((h) => h.name === n)!.root, 'configure.log'));
    // one host broken by the release, the rollout stopped before the next
    expect(['w1', 'w2'].map(configured)).toEqual([true, false]);
    expect(r.stderr).toMatch(/1 of 2 hosts failed, more than --max-fail-percent 25; the rollout stopped, 1 host not reached/);
    expect(r.stdout).toMatch(/configure not run on 1 \(w2 web\): rollout stopped \(--max-fail-percent\)/);
  });
});
