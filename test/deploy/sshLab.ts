import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** One test "host": its own sshd on 127.0.0.1, its own folder standing in for its file system. */
export interface LabHost {
  name: string;
  port: number;
  address: string;
  /** the host's folder: facts, staged bundles and configured files live below it */
  root: string;
  config: string;
  log: string;
  proc?: ChildProcess;
  /** run sshd inside this network namespace */
  netns?: string;
}

export interface SshLab {
  dir: string;
  hosts: LabHost[];
  /** ssh_config for `ferry -F` / ssh settings: the lab's user key and known_hosts */
  sshConfig: string;
  stop(host: LabHost): Promise<void>;
  start(host: LabHost): Promise<void>;
  /** sessions the host's sshd started (commands it ran), from its log */
  sessions(host: LabHost): number;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForPort(address: string, port: number, netns?: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const probe = netns ? ['ip', 'netns', 'exec', netns, 'bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`] : ['bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`];
      execFileSync(probe[0]!, probe.slice(1), { stdio: 'ignore' });
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`sshd on ${address}:${port} did not start`);
}

/** Every process below pid, children first found by scanning /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) if (pp === p) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/** Start `count` sshd processes (run as root, in the foreground: sshd -D -e -f CONFIG) with generated keys. */
export async function startSshLab(dir: string, names: string[], opts: { netns?: Record<string, { address: string; netns: string }> } = {}): Promise<SshLab> {
  mkdirSync('/run/sshd', { recursive: true });
  const key = join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ferry-test', '-f', key]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${key}.pub`));
  const known: string[] = [];
  const hosts: LabHost[] = [];
  for (const name of names) {
    const hdir = join(dir, name);
    const root = join(hdir, 'root');
    mkdirSync(root, { recursive: true });
    const hostKey = join(hdir, 'ssh_host_ed25519_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', hostKey]);
    const ns = opts.netns?.[name];
    const address = ns ? ns.address : '127.0.0.1';
    const port = ns ? 22 : await freePort();
    const config = join(hdir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        `ListenAddress ${address}`,
        `HostKey ${hostKey}`,
        'PidFile none',
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'LogLevel VERBOSE',
        'MaxSessions 200',
        'MaxStartups 200',
        'PrintMotd no',
        '',
      ].join('\n'),
    );
    known.push(`${port === 22 ? address : `[${address}]:${port}`} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}`);
    hosts.push({ name, port, address, root, config, log: join(hdir, 'sshd.log'), netns: ns?.netns });
  }
  writeFileSync(join(dir, 'known_hosts'), known.join('\n') + '\n');
  const sshConfig = join(dir, 'ssh_config');
  writeFileSync(
    sshConfig,
    ['Host *', `  IdentityFile ${key}`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${join(dir, 'known_hosts')}`, '  GlobalKnownHostsFile /dev/null', '  User root', '  LogLevel ERROR', ''].join('\n'),
  );

  const start = async (h: LabHost) => {
    const log = createWriteStream(h.log, { flags: 'a' });
    await new Promise((r) => log.on('open', r));
    const argv = ['/usr/sbin/sshd', '-D', '-e', '-f', h.config];
    const cmd = h.netns ? ['ip', 'netns', 'exec', h.netns, ...argv] : argv;
    // its own process group, so stop() takes down the listener and every connection it forked
    h.proc = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', log, log], detached: true });
    await waitForPort(h.address, h.port, h.netns);
  };
  const stop = async (h: LabHost) => {
    const p = h.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    // sshd puts each connection in a session of its own (setsid), so its connections are found by parentage
    for (const pid of [...descendants(p.pid!), p.pid!]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await gone;
    h.proc = undefined;
  };
  for (const h of hosts) await start(h);
  return {
    dir,
    hosts,
    sshConfig,
    start,
    stop,
    sessions: (h) => (readFileSync(h.log, 'utf8').match(/Starting session: command/g) ?? []).length,
    async close() {
      for (const h of hosts) await stop(h);
    },
  };
}
