import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { until } from '../helpers/until.js';

/**
 * Two teams, one inventory: site runs on group web (s1), mon on group mon (m1), and neither release gives
 * the other's hosts anything. A deploy of site held m1 (to mark retired facts there) for its whole
 * rollout, so a deploy of mon started meanwhile was refused on m1 ("host m1 is locked by ferry deploy"),
 * though site had nothing to do there. A host the release gives no service is now held only at the end,
 * for that marking (m1 ran site before it left group web: its fact of web is still marked retired).
 */
describe('a deploy of another release while one rolls out (sshd hosts)', () => {
  const ctx = useLab('other-release-run', ['s1', 'm1']);

  it('the other release deploys to its own hosts meanwhile; the first still finishes', async () => {
    const { lab, store, server } = ctx;
    for (const h of lab.hosts) resetHost(h);
    const [s1, m1] = lab.hosts as [(typeof lab.hosts)[number], (typeof lab.hosts)[number]];
    writeRelease(store, { name: 'site', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    writeRelease(store, { name: 'site', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: webService('2.0.0') } });
    writeRelease(store, { name: 'mon', version: '1', services: { agent: { version: '1.0.0', groups: ['mon'], files: { 'agent.conf': 'agent\n' }, configure: [{ file: { src: 'agent.conf', dest: '{{ root }}/etc/agent.conf' } }] } } });
    const host = (h: typeof s1, vars: Record<string, unknown> = {}) => ({ address: h.address, port: h.port, vars: { root: h.root, ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '', ...vars } });
    const inv = join(ctx.dir, 'inventory.yaml');
    // s1's configure waits for the file ROOT/go, after saying so
    const wait = `touch ${s1.root}/waiting; n=0; until [ -e ${s1.root}/go ] || [ $n -ge 12000 ]; do n=$((n + 1)); sleep 0.05; done`;
    const writeInv = (web: string[]) => writeFileSync(inv, stringify({ vars: { ferry_server: server.url }, groups: { web: { hosts: web, vars: { port: 8080 } }, mon: { hosts: ['m1'] } }, hosts: { s1: host(s1, { configure_wait: wait }), m1: host(m1) } }));
    const deploy = (ref: string) => runFerry('deploy', ref, '--store', store, '-i', inv, '-F', lab.sshConfig);

    // m1 ran site once (it was in group web), then left the group
    writeInv(['s1', 'm1']);
    writeFileSync(join(s1.root, 'go'), '');
    const first = await deploy('site@1');
    expect(first.code, first.stderr).toBe(0);
    rmSync(join(s1.root, 'go'));
    rmSync(join(s1.root, 'waiting'));
    writeInv(['s1']);

    const site = deploy('site@2');
    await until('s1 to wait in configure', () => existsSync(join(s1.root, 'waiting')));
    const mon = await deploy('mon@1');
    writeFileSync(join(s1.root, 'go'), '');
    const s = await site;
    expect(mon.code, mon.stdout + mon.stderr).toBe(0);
    expect(existsSync(join(m1.root, 'etc/agent.conf'))).toBe(true);
    expect(s.code, s.stdout + s.stderr).toBe(0);
    // m1, held at the end, had its fact of site's web marked retired: it no longer counts as running site 1
    expect(s.stderr).toMatch(/^web of site 2 is not given to m1 \(it runs on group web\): retired there /m);
    const status = await runFerry('status', '-i', inv, '-F', lab.sshConfig, '--json');
    const rows = (JSON.parse(status.stdout) as { rows: Array<{ host: string; service: string; retired?: unknown }> }).rows;
    expect(rows.filter((r) => r.host === 'm1').map((r) => `${r.service} ${r.retired ? 'retired' : 'current'}`)).toEqual(['agent current', 'web retired']);
  });
});
