import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * One inventory, two teams' hosts: site runs on group web (s1), the monitoring host m1 is in group mon
 * only, and site gives it nothing. With m1 down, a deploy of site failed (exit 72, "1 host failed (m1)",
 * "1 of 2 hosts ok") though every host it deploys to succeeded, a plan failed ("could not be asked"), status --expect failed ("m1 is unreachable"),
 * and a rollback of site was refused ("cannot tell which release m1 runs"): an unrelated host's outage
 * blocked the emergency path too.
 */
describe('a host down that the release gives nothing (sshd hosts)', () => {
  const ctx = useLab('unrelated-down', ['s1', 'm1']);

  it('deploy, plan, status --expect and rollback go on (deploy with a warning naming it); a host the release deploys to still fails the run', async () => {
    const { lab, store, server } = ctx;
    for (const h of lab.hosts) resetHost(h);
    writeRelease(store, { name: 'site', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const v2 = writeRelease(store, { name: 'site', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: webService('2.0.0') } });
    const host = (name: string) => {
      const h = lab.hosts.find((x) => x.name === name)!;
      return { address: h.address, port: h.port, vars: { root: h.root, ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } };
    };
    const inv = join(ctx.dir, 'inventory.yaml');
    writeFileSync(inv, stringify({ vars: { ferry_server: server.url }, groups: { web: { hosts: ['s1'], vars: { port: 8080 } }, mon: { hosts: ['m1'] } }, hosts: { s1: host('s1'), m1: host('m1') } }));
    const run = (...args: string[]) => runFerry(...args, '--store', store, '-i', inv, '-F', lab.sshConfig, '--retry-delay', '100');
    const [s1, m1] = lab.hosts as [(typeof lab.hosts)[number], (typeof lab.hosts)[number]];

    const d1 = await run('deploy', 'site@1');
    expect(d1.code, d1.stderr).toBe(0);
    await lab.stop(m1);

    const d2 = await run('deploy', 'site@2');
    expect(d2.code, d2.stdout + d2.stderr).toBe(0);
    expect(d2.stderr).toMatch(/^warning: host m1 \(127\.0\.0\.1:\d+\): ssh: .*Connection refused; site 2 gives host m1 no service: the run goes on without it$/m);
    expect(d2.stdout).toMatch(/^site 2 \(\w{12}\): 1 of 1 hosts ok/m);
    expect(d2.stdout).not.toMatch(/^m1 /m);

    const plan = await runFerry('plan', 'site@1', '--store', store, '-i', inv, '-F', lab.sshConfig);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).not.toMatch(/m1/);

    // status --expect of site: m1 is listed unreachable, but site gives it nothing; without the release, it counts
    const expectArgs = ['status', '-i', inv, '-F', lab.sshConfig, '--expect', v2.slice(0, 12)];
    const st = await runFerry(...expectArgs, '--store', store);
    expect(st.code, st.stdout + st.stderr).toBe(0);
    expect(st.stdout).toMatch(/^m1: unreachable: /m);
    const blind = await runFerry(...expectArgs, '--store', join(ctx.dir, 'no-store'));
    expect(blind.code).toBe(72);
    expect(blind.stderr.trim()).toBe(`ferry: not every host runs bundle ${v2.slice(0, 12)}: m1 is unreachable`);

    const rb = await run('rollback', 'site');
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    expect(rb.stderr).toMatch(/rolling back site to 1 /);
    expect(rb.stdout).toMatch(/^site 1 \(\w{12}\): 1 of 1 hosts ok/m);

    // --check reads and compares on the hosts the release deploys to, and counts only those
    const check = await run('deploy', 'site@1', '--check');
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^no drift: \d+ steps on 1 host match[; ]/m);

    // a host the release deploys to, down: the run still fails, and names it
    await lab.start(m1);
    await lab.stop(s1);
    const d3 = await run('deploy', 'site@2');
    expect(d3.code).toBe(72);
    expect(d3.stderr.trim().split('\n').at(-1)).toMatch(/^ferry: 1 host failed \(s1\)/);
    await lab.start(s1);
  });
});
