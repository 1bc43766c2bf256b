import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { forEachHost } from '../../src/deploy/forEachHost.js';
import { hostSettings } from '../../src/deploy/hostSettings.js';
import { runDeploy } from '../../src/deploy/runDeploy.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { labInventory, recordingLogger, resetHost, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/** ssh processes of this test process's runs: their command line names its folder of control sockets (fy-PID-...) */
function runMasters(): number[] {
  const mark = `/fy-${process.pid}-`;
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(mark)) pids.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

/** A master asked to exit is gone a moment later: wait for that (10 minutes is a hang detector, not an estimate). */
async function gone(pids: number[]): Promise<number[]> {
  const until = Date.now() + 600_000;
  let alive = pids;
  while (alive.length && Date.now() < until) {
    await sleep(50);
    alive = alive.filter((p) => {
      try {
        return !/^\d+ \([^)]*\) Z/.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
      } catch {
        return false;
      }
    });
  }
  return alive;
}

describe('the ssh connections of a run', () => {
  const ctx = useLab('conns', ['c1', 'c2']);

  /** the system ssh, each call written to a log first */
  const sshRecorder = () => {
    const log = join(ctx.dir, `ssh-calls-${Math.random().toString(16).slice(2)}`);
    const program = `${log}.sh`;
    writeFileSync(log, '');
    writeFileSync(program, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec ssh "$@"\n`);
    chmodSync(program, 0o755);
    return { program, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  };

  it("ends a deploy without an ssh process per host to stop its masters: each ends with its host's lock", async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    writeRelease(ctx.store, { name: 'conns', version: '1', services: { web: webService('1.0.0') } });
    const ssh = sshRecorder();
    const { inventory } = labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url });
    const report = await runDeploy({ release: await loadRelease(ctx.store, 'conns@1'), inventory, hosts: inventory.hosts, source: { push: false }, ssh: { configFile: ctx.lab.sshConfig, program: ssh.program }, log: recordingLogger() });
    expect(report.ok).toBe(true);
    expect(ssh.calls().length).toBeGreaterThanOrEqual(report.hosts.reduce((n, h) => n + h.commands, 0));
    expect(ssh.calls().filter((c) => c.includes('-O exit'))).toEqual([]);
    expect(runMasters()).toEqual([]);
  });

  it('stops the masters ssh kept running on its own (ControlPersist) when plan or status is done with the hosts', async () => {
    const ssh = sshRecorder();
    const { inventory } = labInventory(ctx.lab.hosts, {});
    const items = inventory.hosts.map((host) => ({ host, settings: hostSettings(host, inventory.file) }));
    let during: number[] = [];
    await forEachHost(items, { ssh: { configFile: ctx.lab.sshConfig, program: ssh.program } }, async (_item, transport) => {
      expect((await transport.run('true')).code).toBe(0);
      during = runMasters();
    });
    // a master per host was running, and each was asked to exit once
    expect(during.length).toBeGreaterThanOrEqual(1);
    expect(ssh.calls().filter((c) => c.includes('-O exit'))).toHaveLength(ctx.lab.hosts.length);
    expect(await gone(runMasters())).toEqual([]);
  });
});
