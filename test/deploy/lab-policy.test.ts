import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy } from '../../src/deploy/runDeploy.js';
import { FERRY_BIN, run } from '../helpers/cli.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { until } from '../helpers/until.js';
import { writeSlowAptRelease } from './debFixture.js';
import { recordingLogger } from './fixtures.js';

const enabled = await canRunLab();
const lab = await labFor('dtpol', 1);
const INVENTORY = 'groups: { app: { hosts: [lab1] } }\nhosts: { lab1: }\n';
const OPERATORS_OWN = '#!/bin/sh\n# the operator holds services on this host\nexit 101\n';

describe.skipIf(!enabled)("ferry's policy-rc.d on an isolated lab host: never left behind, never the operator's", () => {
  let dir: string;
  let store: string;
  const ssh = (cmd: string) => run('ssh', ['-F', lab.sshConfig, 'lab1', cmd]);
  const deploy = async () => {
    const inventory = parseInventory(INVENTORY, 'inventory.yaml');
    const log = recordingLogger();
    const report = await runDeploy({ release: await loadRelease(store, 'slow@1'), inventory, hosts: inventory.hosts, source: { push: true }, ssh: { configFile: lab.sshConfig }, log });
    return { report, log };
  };

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-deploy-policy-');
    store = join(dir, 'store');
    await writeSlowAptRelease(dir, store);
    const up = await lab.sh(['up', '1']);
    expect(up.code, up.stderr).toBe(0);
    expect((await ssh('rm -f /usr/sbin/policy-rc.d /var/lib/ferry-slow-*')).code).toBe(0);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a runner killed during the apt step: the host stops apt and removes the policy-rc.d; the next run completes the install', async () => {
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, INVENTORY);
    const runner = spawn(process.execPath, [FERRY_BIN, 'deploy', 'slow@1', '--store', store, '--push', '-i', inv, '-F', lab.sshConfig], { stdio: 'ignore' });
    await until('the package to be installing', async () => (await ssh('test -e /var/lib/ferry-slow-installing')).code === 0);
    // services are held by ferry's own, marked policy-rc.d
    expect((await ssh('sed -n 2p /usr/sbin/policy-rc.d')).stdout).toBe('# ferry-policy-rc.d\n');
    runner.kill('SIGKILL');
    await new Promise((r) => runner.once('exit', r));
    await until('the host to stop apt and remove the policy-rc.d', async () => (await ssh('test ! -e /usr/sbin/policy-rc.d && ! pgrep -x apt-get && ! pgrep -x dpkg')).code === 0);
    // stopped, not finished: the postinst never got its go-ahead, so the package is not configured
    expect((await ssh("dpkg-query -W -f='${db:Status-Abbrev}' ferry-slow")).stdout).not.toBe('ii ');

    expect((await ssh('touch /var/lib/ferry-slow-go')).code).toBe(0);
    const next = await deploy();
    expect(next.report.ok, JSON.stringify(next.report)).toBe(true);
    expect((await ssh("dpkg-query -W -f='${db:Status-Abbrev}${Version}' ferry-slow")).stdout).toBe('ii 1.0-1');
    expect((await ssh('test -e /usr/sbin/policy-rc.d')).code).toBe(1);
  });

  it("removes a stale policy-rc.d of ferry's at the next run, and never the operator's own", async () => {
    // what a host crash in the middle of an apt step leaves: ferry's marked file, and no process
    const stale = '#!/bin/sh\n# ferry-policy-rc.d\nexit 101\n';
    expect((await run('ssh', ['-F', lab.sshConfig, 'lab1', 'cat > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'], { input: stale })).code).toBe(0);
    const cleaned = await deploy();
    expect(cleaned.report.ok).toBe(true);
    expect((await ssh('test -e /usr/sbin/policy-rc.d')).code).toBe(1);
    expect(cleaned.log.warnings).toContain("host lab1: an earlier run had been stopped: removed ferry's /usr/sbin/policy-rc.d");

    expect((await run('ssh', ['-F', lab.sshConfig, 'lab1', 'cat > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'], { input: OPERATORS_OWN })).code).toBe(0);
    expect((await deploy()).report.ok).toBe(true);
    expect((await ssh('cat /usr/sbin/policy-rc.d')).stdout).toBe(OPERATORS_OWN);
    expect((await ssh('rm /usr/sbin/policy-rc.d')).code).toBe(0);
  });
});
