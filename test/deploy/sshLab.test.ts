import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../src/util/isProcessAlive.js';
import { run } from '../helpers/cli.js';
import { startSshLab, type SshLab } from './sshLab.js';

describe('the test hosts: sshd on loopback', () => {
  let dir: string;
  let lab: SshLab;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-sshlab-'));
    lab = await startSshLab(dir, ['s1']);
  });
  afterAll(async () => {
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ssh = (cmd: string) => run('ssh', ['-F', lab.sshConfig, '-p', String(lab.hosts[0]!.port), lab.hosts[0]!.address, cmd]);

  it('runs remote commands with plain sh, reading no start-up file of the login user or the machine', async () => {
    // start-up files bash or a login shell would read, each leaving a mark
    const r0 = await ssh('echo "$HOME"');
    expect(r0.code, r0.stderr).toBe(0);
    const home = r0.stdout.trim();
    expect(home.startsWith(dir)).toBe(true);
    for (const f of ['.bashrc', '.bash_profile', '.profile', '.shrc']) writeFileSync(join(home, f), `touch "$HOME/ran${f}"\n`);

    const r = await ssh('echo "$0|${BASH_VERSION:-no bash}|${PYENV_SHELL:-no pyenv}"');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('sh|no bash|no pyenv\n');
    expect(readdirSync(home).filter((f) => f.startsWith('ran'))).toEqual([]);
    // and not the machine's home either: root's dotfiles (here: pyenv init) stay out of every command
    expect(existsSync(join(home, '.pyenv'))).toBe(false);
  });
});

describe('the test hosts: commands counted on the host side', () => {
  let dir: string;
  let lab: SshLab;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-sshlab-count-'));
    lab = await startSshLab(dir, ['k1'], { countCommands: true });
  });
  afterAll(async () => {
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts every command the host runs, the ones multiplexed over one connection too, and runs each unchanged', async () => {
    const h = lab.hosts[0]!;
    const ssh = (opts: string[], cmd: string[] = []) => run('ssh', ['-F', lab.sshConfig, '-o', `ControlPath=${dir}/cm-%C`, ...opts, '-p', String(h.port), h.address, ...cmd]);
    const commands = lab.commands(h);
    // a master connection that runs no command, two commands over it, and one on a connection of its own
    expect((await ssh(['-o', 'ControlMaster=yes', '-o', 'ControlPersist=yes', '-N'])).code).toBe(0);
    const r1 = await ssh(['-o', 'ControlMaster=no'], [`printf '%s|%s' "$(echo a b)" "$0"`]);
    const r2 = await ssh(['-o', 'ControlMaster=no'], ['exit 7']);
    const r3 = await ssh(['-o', 'ControlMaster=no', '-o', 'ControlPath=none'], ['echo own']);
    await ssh(['-O', 'exit']);
    expect([r1.stdout, r2.code, r3.stdout]).toEqual(['a b|sh', 7, 'own\n']);
    expect(lab.commands(h) - commands).toBe(3);
  });
});

describe('the test hosts: many at once', () => {
  let dir: string;
  let lab: SshLab;
  const names = Array.from({ length: 12 }, (_, i) => `m${i + 1}`);
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-sshlab-many-'));
    lab = await startSshLab(dir, names, { countCommands: true });
  });
  afterAll(async () => {
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts a dozen hosts together, each on a port of its own with a host key known_hosts vouches for', async () => {
    expect(new Set(lab.hosts.map((h) => h.port)).size).toBe(names.length);
    const answers = await Promise.all(lab.hosts.map((h) => run('ssh', ['-F', lab.sshConfig, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-p', String(h.port), h.address, 'echo "$0"'])));
    expect(answers.map((r) => [r.code, r.stdout, r.stderr])).toEqual(names.map(() => [0, 'sh\n', '']));
    expect(lab.hosts.map((h) => lab.commands(h))).toEqual(names.map(() => 1));
  });

  it('stops every host and every connection it holds with one close', async () => {
    const h = lab.hosts[0]!;
    const held = spawn('ssh', ['-F', lab.sshConfig, '-o', 'BatchMode=yes', '-p', String(h.port), h.address, 'echo up; cat']);
    // listened for before the close: the client may end while close() is still waiting for the hosts' exits
    const heldClosed = new Promise((r) => held.once('close', r));
    let stderr = '';
    held.stderr.on('data', (c: Buffer) => (stderr += String(c)));
    const up = await Promise.race([new Promise((r) => held.stdout.once('data', () => r(true))), heldClosed.then(() => false)]);
    expect(up, `the held connection ended before it was up: ${stderr}`).toBe(true);
    const pids = lab.hosts.map((x) => x.proc!.pid!);
    await lab.close();
    await heldClosed;
    expect(pids.filter((pid) => isProcessAlive(pid))).toEqual([]);
    expect(lab.hosts.every((x) => x.proc === undefined)).toBe(true);
  });
});
