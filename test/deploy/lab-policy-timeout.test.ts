import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOLD_TIMER } from '../../src/deploy/steps/aptStep.js';
import { FERRY_BIN } from '../helpers/cli.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { until } from '../helpers/until.js';
import { writeSlowAptRelease } from './debFixture.js';

const enabled = await canRunLab();
const lab = await labFor('dtpto', 2);
const OPERATORS_OWN = '#!/bin/sh\n# the operator holds services on this host\nexit 101\n';
/** ferry's policy-rc.d lives this long on the host; short, so the test waits about a minute */
const HOLD_SECONDS = 60;

/** the command lines (arguments) of this machine's processes that have `arg` among their arguments (lab hosts are chroots and namespaces of this machine) */
function processesWith(arg: string): string[][] {
  const found: string[][] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.includes(arg)) found.push(args);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.skipIf(!enabled)('ferry_policy_rc_timeout: when the runner and a host lose each other mid-install, the host removes ferry\'s policy-rc.d by itself', () => {
  let dir: string;
  let store: string;
  /** a host's file, read from outside: the test reaches it without the network the test cuts */
  const onHost = (i: number, path: string) => join(lab.dir, `host${i}`, 'root', path);

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-deploy-policy-timeout-');
    store = join(dir, 'store');
    await writeSlowAptRelease(dir, store);
    const up = await lab.sh(['up', '2']);
    expect(up.code, up.stderr).toBe(0);
    // the hosts' roots start as this machine's, which may have a policy-rc.d of its own (a container's)
    for (const i of [1, 2]) rmSync(onHost(i, 'usr/sbin/policy-rc.d'), { force: true });
  });
  afterAll(async () => {
    // lab down stops what still runs in the hosts' namespaces (the installs that wait for a go-ahead)
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ferry's own is gone once its time passed, with no ferry run and the install still hanging; an operator's own stays", async () => {
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, `vars: { ferry_policy_rc_timeout: ${HOLD_SECONDS} }\ngroups: { app: { hosts: [lab1, lab2] } }\nhosts: { lab1: , lab2: }\n`);
    // packages install in configure's activation, in the serial batches: one batch of both hosts
    const runner = spawn(process.execPath, [FERRY_BIN, 'deploy', 'slow@1', '--store', store, '--push', '--serial', '2', '-i', inv, '-F', lab.sshConfig], { stdio: 'ignore', detached: true });
    await until('the package to be installing on both hosts', () => [1, 2].every((i) => existsSync(onHost(i, 'var/lib/ferry-slow-installing'))));
    // the postinst found ferry's own, marked policy-rc.d holding services
    for (const i of [1, 2]) expect(readFileSync(onHost(i, 'var/lib/ferry-slow-seen'), 'utf8').split('\n')[1]).toBe('# ferry-policy-rc.d');
    // on lab2 the operator puts their own in place meanwhile; the timer of ferry's hold must leave it
    const held = readFileSync(onHost(2, 'usr/sbin/policy-rc.d'), 'utf8');
    const token = /^# hold ([0-9a-f]{16}):/m.exec(held)?.[1];
    expect(token, held).toBeDefined();
    writeFileSync(onHost(2, 'usr/sbin/policy-rc.d'), OPERATORS_OWN, { mode: 0o755 });
    // the hold's timer runs on the host, named, with the hold's token
    expect(processesWith(token!).map((args) => args.slice(3, 7))).toContainEqual([HOLD_TIMER, expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/), token]);

    // the hosts never hear that the runner is gone: their links go down first, then the runner dies
    for (const i of [1, 2]) execFileSync('ip', ['-n', `${lab.name}-${i}`, 'link', 'set', 'eth0', 'down']);
    process.kill(-runner.pid!, 'SIGKILL');
    await new Promise((r) => runner.exitCode !== null || runner.signalCode !== null ? r(undefined) : runner.once('exit', r));

    await until("ferry's policy-rc.d to remove itself on lab1", () => !existsSync(onHost(1, 'usr/sbin/policy-rc.d')));
    // neither the end of the apt step (it still waits) nor the host's guard (it never heard) removed it
    expect(existsSync(onHost(1, 'var/lib/ferry-slow-finished'))).toBe(false);
    expect(existsSync(onHost(1, 'var/lib/ferry/run/holder'))).toBe(true);

    await until("lab2's timer to end", () => processesWith(token!).length === 0);
    expect(readFileSync(onHost(2, 'usr/sbin/policy-rc.d'), 'utf8')).toBe(OPERATORS_OWN);
    expect(existsSync(onHost(2, 'var/lib/ferry-slow-finished'))).toBe(false);
  });
});
