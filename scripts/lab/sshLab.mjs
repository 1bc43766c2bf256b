/**
 * Test hosts for ferry deploy: sshd processes on 127.0.0.1 (or in a network namespace), each with its
 * own host key and folder, reached with a generated user key and known_hosts. Shared by the tests
 * (test/deploy/) and the benchmark (scripts/bench/deploy.mjs); types in test/deploy/sshLab.ts.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
export async function freePort() {
    return new Promise((resolve, reject) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
            const port = s.address().port;
            s.close(() => resolve(port));
        });
        s.on('error', reject);
    });
}
/**
 * Wait until sshd accepts connections, for as long as it is alive: on a busy machine it may be slow to
 * start, so only its exit is a failure. The 10-minute bound is a hang detector, not an estimate.
 */
async function waitForPort(h) {
    const probe = h.netns ? ['ip', 'netns', 'exec', h.netns, 'bash', '-c', `exec 3<>/dev/tcp/${h.address}/${h.port}`] : ['bash', '-c', `exec 3<>/dev/tcp/${h.address}/${h.port}`];
    const until = Date.now() + 600_000;
    for (;;) {
        if (spawnSync(probe[0], probe.slice(1), { stdio: 'ignore' }).status === 0)
            return;
        if (h.proc.exitCode !== null || h.proc.signalCode !== null)
            throw new Error(`sshd for ${h.name} exited before it listened on ${h.address}:${h.port}: ${readFileSync(h.log, 'utf8').trim().split('\n').slice(-3).join(' ')}`);
        if (Date.now() > until)
            throw new Error(`sshd for ${h.name} is running but did not listen on ${h.address}:${h.port} within 10 minutes (see ${h.log})`);
        await sleep(50);
    }
}
/**
 * The passwd file the lab's sshd sees (bind-mounted over /etc/passwd in its own mount namespace): root
 * logs in to /bin/sh with the lab's own empty home. sshd runs every command with the login shell, and
 * root's bash would first run the machine's start-up files (/etc/bash.bashrc, ~/.bashrc: pyenv init and
 * the like, which change PATH and python3 and may block); `sh -c` reads none.
 */
function labPasswd(dir) {
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const lines = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => {
        const f = l.split(':');
        return f[0] === 'root' && f.length === 7 ? [...f.slice(0, 5), home, '/bin/sh'].join(':') : l;
    });
    const file = join(dir, 'passwd');
    writeFileSync(file, lines.join('\n'));
    return file;
}
/** Every process below pid, children first found by scanning /proc. */
function descendants(pid) {
    const parent = new Map();
    for (const d of readdirSync('/proc')) {
        if (!/^\d+$/.test(d))
            continue;
        try {
            const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
            parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
        }
        catch {
            /* exited meanwhile */
        }
    }
    const out = [];
    const walk = (p) => {
        for (const [child, pp] of parent)
            if (pp === p) {
                out.push(child);
                walk(child);
            }
    };
    walk(pid);
    return out;
}
/**
 * Start `count` sshd processes (run as root, in the foreground: sshd -D -e -f CONFIG) with generated keys.
 * opts.netns puts a host's sshd in a network namespace; opts.countCommands makes each sshd count the
 * commands it runs (lab.commands(host)), on the host side, whatever the client does.
 */
export async function startSshLab(dir, names, opts = {}) {
    mkdirSync('/run/sshd', { recursive: true });
    const key = join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ferry-test', '-f', key]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${key}.pub`));
    const passwd = labPasswd(dir);
    const known = [];
    const hosts = [];
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
        writeFileSync(config, [
            `Port ${port}`,
            `ListenAddress ${address}`,
            `HostKey ${hostKey}`,
            'PidFile none',
            `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
            'PermitRootLogin prohibit-password',
            'PasswordAuthentication no',
            'KbdInteractiveAuthentication no',
            'UsePAM no',
            'PermitUserEnvironment no',
            'PermitUserRC no',
            'StrictModes no',
            'LogLevel VERBOSE',
            'MaxSessions 200',
            'MaxStartups 200',
            'PrintMotd no',
            // every session's command (exec, or a subsystem's program) adds one byte to the host's count file first;
            // exec keeps the login shell's pid, so the session is the same process group as without the count
            ...(opts.countCommands ? [`ForceCommand echo >> ${join(hdir, 'commands')}; exec sh -c "$SSH_ORIGINAL_COMMAND"`] : []),
            '',
        ].join('\n'));
        known.push(`${port === 22 ? address : `[${address}]:${port}`} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}`);
        hosts.push({ name, port, address, root, config, log: join(hdir, 'sshd.log'), netns: ns?.netns });
    }
    writeFileSync(join(dir, 'known_hosts'), known.join('\n') + '\n');
    const sshConfig = join(dir, 'ssh_config');
    writeFileSync(sshConfig, ['Host *', `  IdentityFile ${key}`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${join(dir, 'known_hosts')}`, '  GlobalKnownHostsFile /dev/null', '  User root', '  LogLevel ERROR', ''].join('\n'));
    const start = async (h) => {
        const log = createWriteStream(h.log, { flags: 'a' });
        await new Promise((r) => log.on('open', r));
        // unshare execs, so h.proc is sshd itself
        const argv = ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', 'mount --bind "$0" /etc/passwd && exec /usr/sbin/sshd -D -e -f "$1"', passwd, h.config];
        const cmd = h.netns ? ['ip', 'netns', 'exec', h.netns, ...argv] : argv;
        // its own process group, so stop() takes down the listener and every connection it forked
        h.proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', log, log], detached: true });
        await waitForPort(h);
    };
    const stop = async (h) => {
        const p = h.proc;
        if (!p || p.exitCode !== null)
            return;
        const gone = new Promise((r) => p.once('exit', r));
        // sshd puts each connection in a session of its own (setsid), so its connections are found by parentage
        for (const pid of [...descendants(p.pid), p.pid]) {
            try {
                process.kill(pid, 'SIGKILL');
            }
            catch {
                /* already gone */
            }
        }
        await gone;
        h.proc = undefined;
    };
    for (const h of hosts)
        await start(h);
    return {
        dir,
        hosts,
        sshConfig,
        start,
        stop,
        logins: (h) => (readFileSync(h.log, 'utf8').match(/^Accepted publickey for /gm) ?? []).length,
        commands: (h) => {
            try {
                return statSync(join(dirname(h.root), 'commands')).size;
            }
            catch {
                return 0;
            }
        },
        async close() {
            for (const h of hosts)
                await stop(h);
        },
    };
}
