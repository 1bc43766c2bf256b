import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
