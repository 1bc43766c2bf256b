import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy } from '../../src/deploy/runDeploy.js';
import { labInventory, recordingLogger, resetHost, useLab } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/** The command line of every process on this machine (the runner and the lab's sshd hosts alike). */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim());
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

describe('secrets stay out of command lines and messages, over the real OpenSSH transport', () => {
  const ctx = useLab('secrets', ['s1']);

  it("a step's env value and a rendered secret never appear in any process's command line, on the runner or on the host", async () => {
    const host = ctx.lab.hosts[0]!;
    resetHost(host);
    const secret = `s3cret-${randomBytes(12).toString('hex')}`;
    writeRelease(ctx.store, {
      name: 'secrets',
      version: '1',
      services: {
        web: {
          version: '1.0.0',
          groups: ['web'],
          files: { 'readme.txt': 'x\n' },
          configure: [
            {
              command: {
                env: { DB_PASSWORD: '{{ db_password }}' },
                // waits while the test reads every command line, until the test says go (bounded, in case the test died)
                run: 'PW={{ db_password | quote }}; touch {{ root }}/started; i=0; while [ ! -e {{ root }}/go ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done; [ "$DB_PASSWORD" = "$PW" ] && printf %s "$DB_PASSWORD" > {{ root }}/seen',
              },
            },
          ],
        },
      },
    });
    const { inventory } = labInventory(ctx.lab.hosts, { db_password: secret });
    let settled = false;
    const deploy = runDeploy({ release: await loadRelease(ctx.store, 'secrets@1'), inventory, hosts: inventory.hosts, source: { push: true }, ssh: { configFile: ctx.lab.sshConfig }, log: recordingLogger() }).finally(() => {
      settled = true;
    });
    while (!settled && !existsSync(join(host.root, 'started'))) await sleep(50);
    const lines = commandLines();
    writeFileSync(join(host.root, 'go'), '');
    const report = await deploy;
    expect(report.hosts[0]!.error).toBeUndefined();
    // the secret did reach the step, through the environment and the rendered script
    expect(readFileSync(join(host.root, 'seen'), 'utf8')).toBe(secret);
    expect(lines.filter((l) => l.includes(secret))).toEqual([]);
    // and the scan saw both ends: the runner's ssh client for this host, and the host's shell reading its script
    expect(lines.some((l) => l.startsWith('ssh ') && l.includes(ctx.lab.sshConfig) && l.includes(`-p ${host.port}`))).toBe(true);
    expect(lines.some((l) => l.includes('/bin/sh -c s=$(head -c'))).toBe(true);
  });

  it('a failing command does not quote its rendered text: the failure message (terminal, events, the fact on the host, ferry status) names the command as the spec wrote it', async () => {
    const host = ctx.lab.hosts[0]!;
    resetHost(host);
    const secret = `s3cret-${randomBytes(12).toString('hex')}`;
    writeRelease(ctx.store, {
      name: 'secretfail',
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], files: { 'readme.txt': 'x\n' }, configure: [{ command: { run: 'login --password={{ db_password | secret }} || exit 3' } }] } },
    });
    const { inventory } = labInventory(ctx.lab.hosts, { db_password: secret });
    const log = recordingLogger();
    const report = await runDeploy({ release: await loadRelease(ctx.store, 'secretfail@1'), inventory, hosts: inventory.hosts, source: { push: true }, ssh: { configFile: ctx.lab.sshConfig }, log });
    const error = report.hosts[0]!.error ?? '';
    expect(error).toContain('configure command "login --password={{ db_password | secret }} || exit 3": exit status 3');
    expect(error).not.toContain(secret);
    expect(JSON.stringify(log.events)).not.toContain(secret);
    expect(readFileSync(join(host.root, 'var/lib/ferry/facts/web.json'), 'utf8')).not.toContain(secret);
  });
});
