import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labInventory, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { until } from '../helpers/until.js';

/** `--timeout` over multiplexed ssh: a command that hangs on the host (a health check, a migration). */
describe('a remote command that runs past --timeout', () => {
  const ctx = useLab('cmdtimeout', ['t1']);
  const alive = (pid: number) => existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';

  it('ends the command on the host and the run with one line, instead of waiting for the command; a retry never runs beside it', async () => {
    const { lab, store, server, dir } = ctx;
    const h = lab.hosts[0]!;
    resetHost(h);
    writeRelease(store, { name: 'slow', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const inv = join(dir, 'inventory.yaml');
    // each attempt records its pid, then hangs far longer than --timeout (the mux client's pipes went to the master,
    // so killing the client alone left the runner waiting for the host's command)
    // the retry's attempt first looks for an earlier one still running (a zombie is not: no init reaps it at once here)
    const hang = `for p in $(cat ${h.root}/attempts 2>/dev/null); do [ -e /proc/$p ] && ! grep -q '^State:.*zombie' /proc/$p/status && echo $p >> ${h.root}/beside; done; echo $$ >> ${h.root}/attempts; sleep 240; echo finished >> ${h.root}/attempts`;
    writeFileSync(inv, labInventory(lab.hosts, { ferry_server: server.url }, { t1: { configure_wait: hang } }).text);
    const r = await runFerry('deploy', 'slow@1', '--store', store, '-i', inv, '-F', lab.sshConfig, '--timeout', '20', '--retries', '1', '--retry-delay', '50');
    expect(r.code, r.stderr).toBe(72);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^ferry: 1 host failed \(t1\)/);
    expect(r.stdout).toMatch(/t1 web configure: failed: host t1 \([^)]*\): command did not finish within 20 s$/m);
    const pids = readFileSync(join(h.root, 'attempts'), 'utf8').trim().split('\n').map(Number);
    // the first attempt and its retry, one after the other: the first was stopped before the retry began
    expect(pids).toHaveLength(2);
    expect(existsSync(join(h.root, 'beside'))).toBe(false);
    expect(readFileSync(join(h.root, 'configure.log'), 'utf8').match(/ start$/gm)).toHaveLength(2);
    await until('the hung commands to stop', () => pids.every((p) => !alive(p)));
    expect(readFileSync(join(h.root, 'attempts'), 'utf8')).not.toMatch(/finished/);
    const st = await runFerry('status', '-i', inv, '-F', lab.sshConfig, '--json');
    const row = JSON.parse(st.stdout).rows[0];
    expect(row.complete).toBe(false);
    expect(row.stages.configure).toBe('failed');
  });
});
