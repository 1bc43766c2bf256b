import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labInventory, resetHost, runFerry, useLab } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * A step's result does not reach ferry (here: the step did its work, then hung past --timeout): the stage
 * is retried as a whole over the same held connection, and the step before it that changed the host (a
 * package put in place) now finds nothing to change. What the first attempt changed must still be left for configure to restart for,
 * also when configure comes in a later run (the rollout stopped before this host). The retried install
 * recorded only the retry's changes (none): the later configure found its steps unchanged, did not
 * restart the service, and status called the host complete while it ran the old install.
 */
describe('a step result lost with the connection (sshd hosts)', () => {
  const ctx = useLab('lost-result', ['p1', 'p2']);
  const service = (version: string) => ({
    version,
    groups: ['web'],
    files: { 'app.conf': 'listen 8080\n' },
    install: [
      { command: { run: 'mkdir -p {{ root }}/opt && touch {{ root }}/opt/pkg-{{ ferry_version }}', creates: '{{ root }}/opt/pkg-{{ ferry_version }}' } },
      // with hang=yes, once: does its work, then its result never comes (ferry stops it after --timeout)
      { command: { run: 'touch {{ root }}/hung; exec sleep 3600', unless: 'test -e {{ root }}/hung || test "{{ hang | default(\'no\') }}" != yes' } },
    ],
    configure: [
      { file: { src: 'app.conf', dest: '{{ root }}/etc/app.conf' } },
      { command: { run: 'echo health check failed >&2; exit 1', unless: 'test "{{ fail | default(\'no\') }}" != yes' } },
      { service: { name: 'web', systemctl: '{{ root }}/bin/systemctl' } },
    ],
  });

  it('the retried install still leaves its first attempt\'s change pending: the later configure restarts the service', async () => {
    const { lab, store, server } = ctx;
    for (const h of lab.hosts) resetHost(h);
    writeRelease(store, { name: 'lost', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: service('1.0.0') } });
    const v2 = writeRelease(store, { name: 'lost', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: service('2.0.0') } });
    const inv = join(ctx.dir, 'inventory.yaml');
    const writeInv = (hostVars: Record<string, Record<string, unknown>> = {}) => writeFileSync(inv, labInventory(lab.hosts, { ferry_server: server.url }, hostVars).text);
    const deploy = (ref: string, ...more: string[]) => runFerry('deploy', ref, '--store', store, '-i', inv, '-F', lab.sshConfig, '--retry-delay', '100', '--timeout', '5', ...more);
    const p2 = lab.hosts.find((h) => h.name === 'p2')!;
    const restarts = () => (existsSync(join(p2.root, 'systemctl.log')) ? readFileSync(join(p2.root, 'systemctl.log'), 'utf8').split('\n').filter((l) => l === 'restart web').length : 0);

    writeInv();
    const d1 = await deploy('lost@1');
    expect(d1.code, d1.stderr).toBe(0);
    const before = restarts();

    // lost 2: p1's configure fails first (--serial 1), so the rollout stops before p2's configure; p2's
    // install put pkg-2.0.0 in place, then a step's result did not come within --timeout: install was retried
    writeInv({ p1: { fail: 'yes' }, p2: { hang: 'yes' } });
    const d2 = await deploy('lost@2', '--serial', '1', '--max-fail-percent', '0', '--json');
    expect(d2.code, d2.stderr).toBe(72);
    const events = d2.stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.type === 'retry' && e.host === 'p2').length, d2.stderr).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === 'stage' && e.host === 'p2' && e.stage === 'install').map((e) => e.status)).toEqual(['start', 'ran']);
    expect(existsSync(join(p2.root, 'opt/pkg-2.0.0'))).toBe(true);
    expect(restarts()).toBe(before);
    // status does not call p2 complete: its configure for lost 2 has not run
    const mid = await runFerry('status', '-i', inv, '-F', lab.sshConfig, '--expect', v2.slice(0, 12), '--store', store, '--json');
    expect(mid.code).toBe(72);
    const rows = (JSON.parse(mid.stdout) as { rows: Array<{ host: string; complete: boolean; stages: Record<string, string> }> }).rows;
    expect(rows.find((r) => r.host === 'p2')).toMatchObject({ complete: false, stages: { stage: 'done', install: 'done', configure: 'outdated' } });

    // the next run configures p2: nothing in its configure steps differs, the install it activates does
    writeInv();
    const d3 = await deploy('lost@2');
    expect(d3.code, d3.stderr).toBe(0);
    expect(restarts()).toBe(before + 1);
    const s = await runFerry('status', '-i', inv, '-F', lab.sshConfig, '--expect', v2.slice(0, 12), '--store', store);
    expect(s.code, s.stdout + s.stderr).toBe(0);
  });
});
