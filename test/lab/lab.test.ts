import { describe, expect, it, afterAll } from 'vitest';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { canRunLab, labFor } from '../helpers/lab.js';
import { run } from '../helpers/cli.js';

const enabled = await canRunLab();
const lab = await labFor('t', 2);

describe.skipIf(!enabled)('the air-gapped lab (root, network namespaces)', () => {
  afterAll(async () => {
    await lab.close();
  });

  it('brings up isolated hosts with sshd, each reaching only the runner, running commands with plain sh, and cleans up completely', async () => {
    const up = await lab.sh(['up', '2']);
    expect(up.code, up.stderr).toBe(0);
    const again = await lab.sh(['up', '2']); // idempotent: a lab that exists is rebuilt
    expect(again.code, again.stderr).toBe(0);

    const status = await lab.sh(['status']);
    expect(status.stdout).toContain(`lab1 ${lab.hostIp(1)} runner=${lab.runnerIp(1)} sshd=up isolated=yes`);
    expect(status.stdout).toContain(`lab2 ${lab.hostIp(2)} runner=${lab.runnerIp(2)} sshd=up isolated=yes`);

    const ssh = (host: string, cmd: string) => run('ssh', ['-F', lab.sshConfig, host, cmd]);

    // the runner's HTTP server on the host's link answers; the other host's link does not
    const server = createServer((_req, res) => res.end('runner says hi\n'));
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const ok = await ssh('lab1', `curl -sS --max-time 5 http://${lab.runnerIp(1)}:${port}/`);
      expect(ok.stdout).toBe('runner says hi\n');
      const other = await ssh('lab1', `curl -sS --max-time 5 http://${lab.runnerIp(2)}:${port}/`);
      expect(other.code).not.toBe(0);
      expect(other.stderr).toMatch(/unreachable|Couldn't connect/i);
    } finally {
      server.close();
    }

    // each host has a root of its own: a write on lab1 is seen neither by lab2 nor by the runner
    await ssh('lab1', 'echo lab1 > /etc/ferry-lab-marker');
    expect((await ssh('lab1', 'cat /etc/ferry-lab-marker')).stdout).toBe('lab1\n');
    expect((await ssh('lab2', 'cat /etc/ferry-lab-marker')).code).not.toBe(0);
    expect((await run('cat', ['/etc/ferry-lab-marker'])).code).not.toBe(0);
    expect((await ssh('lab2', 'hostname')).stdout.trim()).toBe('lab2');
    // commands run with plain sh: no start-up file of the runner's root (pyenv init and the like) runs
    expect((await ssh('lab1', 'echo "$0|${BASH_VERSION:-no bash}|${PYENV_SHELL:-no pyenv}"')).stdout).toBe('sh|no bash|no pyenv\n');

    const down = await lab.sh(['down']);
    expect(down.code, down.stderr).toBe(0);
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(lab.name);
    expect((await run('cat', ['/proc/mounts'])).stdout).not.toContain(lab.dir);
    expect((await run('test', ['-e', lab.dir])).code).not.toBe(0);
  });

  it('cleans up after a crashed lab (processes killed, mounts and namespaces left behind)', async () => {
    expect((await lab.sh(['up', '1'])).code).toBe(0);
    // simulate a crash: kill sshd hard, leave everything else
    await run('bash', ['-c', `kill -9 $(ip netns pids ${lab.name}-1)`]);
    const status = await lab.sh(['status']);
    expect(status.stdout).toContain('sshd=down');
    expect((await lab.sh(['down'])).code).toBe(0);
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(lab.name);
    expect((await run('cat', ['/proc/mounts'])).stdout).not.toContain(lab.dir);
  });
});
