import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labInventory, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * A host whose sshd answers and logs in, but whose commands never end (a hung mount, a host out of memory):
 * its connection stays alive, so only a bound on the command ends it.
 */
describe('a host that answers ssh but never finishes a command', () => {
  const ctx = useLab('hunghost', ['g1', 'g2']);

  it('status, plan and a rollback report it unreachable after --timeout, and the others in full; one line, exit 72', async () => {
    const { lab, store, server, dir } = ctx;
    for (const h of lab.hosts) resetHost(h);
    writeRelease(store, { name: 'hung', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const d2 = writeRelease(store, { name: 'hung', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: webService('2.0.0') } });
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, labInventory(lab.hosts, { ferry_server: server.url }).text);
    const common = ['-i', inv, '-F', lab.sshConfig];
    const d = await runFerry('deploy', 'hung@2', '--store', store, ...common);
    expect(d.code, d.stderr).toBe(0);

    const g2 = lab.hosts[1]!;
    // (hung well past every --timeout here, but not for an hour: a session's command outlives the lab's sshd,
    // and each run left a dozen sleeps behind on the shared machine)
    appendFileSync(g2.config, 'ForceCommand exec sleep 120\n');
    await lab.stop(g2);
    await lab.start(g2);

    const st = await runFerry('status', ...common, '--timeout', '3', '--json');
    expect(st.code).toBe(72);
    expect(st.stderr.trim().split('\n')).toEqual(['ferry: 1 host(s) could not be asked for their facts: g2']);
    const report = JSON.parse(st.stdout);
    expect(report.rows.map((r: { host: string; complete: boolean; digest: string }) => [r.host, r.complete, r.digest])).toEqual([['g1', true, d2]]);
    expect(report.unreachable).toEqual([{ region: 'inventory', host: 'g2', error: expect.stringMatching(/^host g2 \([^)]*\): command did not finish within 3 s$/) }]);

    const exp = await runFerry('status', ...common, '--timeout', '3', '--expect', d2, '--store', store);
    expect(exp.code).toBe(72);
    expect(exp.stderr.trim().split('\n')).toHaveLength(1);
    expect(exp.stderr).toMatch(/g2 is unreachable/);

    const plan = await runFerry('plan', 'hung@2', '--store', store, ...common, '--timeout', '3');
    expect(plan.code).toBe(72);
    expect(plan.stderr.trim().split('\n')).toEqual(['ferry: 1 host(s) could not be asked for their facts: g2']);
    expect(plan.stdout).toMatch(/^g1 +web +configure +skip/m);

    // a rollback in the incident: which release the hosts run is a count over their facts, and g2's are unknown
    const refused = await runFerry('rollback', 'hung', '--store', store, ...common, '--timeout', '3', '--retries', '0');
    expect(refused.code).toBe(72);
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ferry: rollback of hung changes nothing: cannot tell which release g2 \(unreachable: host g2 \([^)]*\): command did not finish within 3 s\) runs, .*--to VERSION/)]);
    expect(readFileSync(join(lab.hosts[0]!.root, 'var/lib/ferry/facts/web.json'), 'utf8')).toContain(d2);
    // named with --to: g1 goes back, g2 fails after the bound
    const rb = await runFerry('rollback', 'hung', '--to', '1', '--store', store, ...common, '--timeout', '3', '--retries', '0');
    expect(rb.code).toBe(72);
    expect(rb.stderr).toMatch(/rolling back hung to 1 /);
    expect(rb.stderr.trimEnd().split('\n').at(-1)).toMatch(/^ferry: 1 host failed \(g2\)/);
    expect(rb.stdout).toMatch(/1 of 2 hosts ok/);
  });
});
