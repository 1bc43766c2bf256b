import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { labInventory, repo, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * The service step's health check, on real sshd hosts with a stand-in systemctl: a check that hangs
 * held the whole configure command until --timeout, which then counted as a failure of the path to the
 * host and repeated the stage (restart included) --retries times; a check that passed while the unit
 * had gone down after its restart reported the host done.
 */
describe('health checks that hang, or pass while the service is down', () => {
  const ctx = useLab('health-check', ['hc1']);
  const mark = `ferry-hc-${randomBytes(6).toString('hex')}`;
  let inv = '';
  const hc1 = () => ctx.lab.hosts[0]!;
  const ferry = (...args: string[]) => runFerry(...args, '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig);
  const restarts = () => readFileSync(join(hc1().root, 'systemctl.log'), 'utf8').split('\n').filter((l) => l === 'restart web').length;
  const svc = (version: string, check: string, more: Record<string, unknown> = {}) =>
    webService(version, { install: [], configure: [{ template: { src: 'app.conf.j2', dest: '{{ root }}/etc/web/app.conf' } }, { service: { name: 'web', systemctl: '{{ root }}/bin/systemctl', check, check_tries: 2, check_delay: 0, ...more } }] });

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    resetHost(hc1());
    // the stand-in systemctl: a unit started while ROOT/crash-UNIT exists goes down at once (restart still says 0, as systemd's does for Type=simple)
    writeFileSync(
      join(hc1().root, 'bin/systemctl'),
      '#!/bin/sh\nd=$(dirname "$0")/..\necho "$*" >> "$d/systemctl.log"\ncase "$1" in\n  is-active) shift; [ "$1" = --quiet ] && shift; test -e "$d/active-$1";;\n  is-enabled) exit 1;;\n  start|restart|reload) if [ -e "$d/crash-$2" ]; then rm -f "$d/active-$2"; else touch "$d/active-$2"; fi;;\n  stop) rm -f "$d/active-$2";;\nesac\n',
    );
    inv = join(ctx.dir, 'inventory.yaml');
    writeFileSync(inv, labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }).text);
    writeRelease(ctx.store, { name: 'hc', version: '1', services: { web: svc('1.0.0', 'true') } });
    // a check that never ends (its text names this run's mark, to find what is left of it on the host)
    writeRelease(ctx.store, { name: 'hc', version: '2', services: { web: svc('2.0.0', `sleep 100000; : ${mark}`, { check_timeout: 1 }) } });
    writeRelease(ctx.store, { name: 'hc', version: '3', services: { web: svc('3.0.0', 'true') } });
  });

  it('a try that hangs is stopped and counts as a failed try: one line, exit 72, no repeated restart, nothing left running', async () => {
    expect((await ferry('deploy', 'hc@1')).code).toBe(0);
    const before = restarts();
    const hung = await ferry('deploy', 'hc@2', '--timeout', '600');
    expect(hung.code, hung.stderr).toBe(72);
    expect(hung.stdout).toContain(`health check of web still failing after 2 tries (each stopped after 1 s): sleep 100000; : ${mark}`);
    // a failed step, not a command over --timeout: the stage ran once, restarting once
    expect(hung.stdout + hung.stderr).not.toMatch(/retry|timed out|--timeout/);
    expect(restarts()).toBe(before + 1);
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(mark);
  });

  it('a check that passes while the unit went down after its restart fails the host', async () => {
    writeFileSync(join(hc1().root, 'crash-web'), '');
    const down = await ferry('deploy', 'hc@3');
    expect(down.code, down.stdout + down.stderr).toBe(72);
    expect(down.stdout).toContain('health check of web passed, but web is not active: true');
  });
});
