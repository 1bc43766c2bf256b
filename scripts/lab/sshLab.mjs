/**
 * Test hosts for ferry deploy: sshd processes on 127.0.0.1 (or in a network namespace), each with its
 * own host key and folder, reached with a generated user key and known_hosts. Shared by the tests
 * (test/deploy/) and the benchmark (scripts/bench/deploy.mjs); types in test/deploy/sshLab.ts.
 */
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
const run = promisify(execFile);
/** hosts set up at once: enough to keep 2 cores busy while each waits for its sshd, few enough for the machine's other work */
const STARTING = 16;
/** `count` distinct free ports of 127.0.0.1: each is held until all are found, so none is handed out twice */
export async function freePorts(count) {
    const servers = [];
    try {
        for (let i = 0; i < count; i++) {
            servers.push(await new Promise((resolve, reject) => {
                const s = createServer();
                s.on('error', reject);
                s.listen(0, '127.0.0.1', () => resolve(s));
            }));
        }
        return servers.map((s) => s.address().port);
    }
    finally {
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
}
export async function freePort() {
    return (await freePorts(1))[0];
}
/** Run `work` on every item, at most `limit` at a time; rejects with the first failure once the started ones ended. */
async function eachBounded(items, limit, work) {
    let next = 0;
    let failure;
    const worker = async () => {
        while (next < items.length && !failure) {
            const item = items[next++];
            try {
                await work(item);
            }
            catch (err) {
                failure ??= err;
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    if (failure)
        throw failure;
}
/** Whether a TCP connection to address:port opens (from the runner: every lab host is reachable from it, loopback or bridge). */
function answers(address, port) {
    return new Promise((resolve) => {
        const s = connect({ host: address, port });
        const done = (ok) => {
            s.destroy();
            resolve(ok);
        };
        s.setTimeout(2000, () => done(false));
        s.once('connect', () => done(true));
        s.once('error', () => done(false));
    });
}
/**
 * Wait until sshd accepts connections, for as long as it is alive: on a busy machine it may be slow to
 * start, so only its exit is a failure. The 10-minute bound is a hang detector, not an estimate.
 */
async function waitForPort(h) {
    const until = Date.now() + 600_000;
    for (;;) {
        if (await answers(h.address, h.port))
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
/** Every process below the given pids, found by scanning /proc once. */
function descendants(pids) {
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
    const children = new Map();
    for (const [child, pp] of parent)
        children.set(pp, [...(children.get(pp) ?? []), child]);
    const out = [];
    const walk = (p) => {
        for (const child of children.get(p) ?? []) {
            out.push(child);
            walk(child);
        }
    };
    for (const pid of pids)
        walk(pid);
    return out;
}
/**
 * Start an sshd per name (run as root, in the foreground: sshd -D -e -f CONFIG) with generated keys, up to
 * STARTING at a time.
 * opts.netns puts a host's sshd in a network namespace; opts.countCommands makes each sshd count the
 * commands it runs (lab.commands(host)), on the host side, whatever the client does.
 */
export async function startSshLab(dir, names, opts = {}) {
    mkdirSync('/run/sshd', { recursive: true });
    const key = join(dir, 'id_ed25519');
    const keygen = (file, comment) => run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
    await keygen(key, 'ferry-test');
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${key}.pub`));
    const passwd = labPasswd(dir);
    const loopback = names.filter((name) => !opts.netns?.[name]);
    const ports = new Map((await freePorts(loopback.length)).map((port, i) => [loopback[i], port]));
    const hosts = names.map((name) => {
        const hdir = join(dir, name);
        const ns = opts.netns?.[name];
        return { name, port: ns ? 22 : ports.get(name), address: ns ? ns.address : '127.0.0.1', root: join(hdir, 'root'), config: join(hdir, 'sshd_config'), log: join(hdir, 'sshd.log'), netns: ns?.netns };
    });
    const knownLine = new Map();
    await eachBounded(hosts, STARTING, async (h) => {
        const hdir = dirname(h.root);
        mkdirSync(h.root, { recursive: true });
        const hostKey = join(hdir, 'ssh_host_ed25519_key');
        await keygen(hostKey, h.name);
        writeFileSync(h.config, [
            `Port ${h.port}`,
            `ListenAddress ${h.address}`,
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
        knownLine.set(h, `${h.port === 22 ? h.address : `[${h.address}]:${h.port}`} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}`);
    });
    writeFileSync(join(dir, 'known_hosts'), hosts.map((h) => knownLine.get(h)).join('\n') + '\n');
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
    /** stop hosts: one scan of /proc finds the connections of them all (sshd puts each in a session of its own, so parentage is what links them) */
    const stopAll = async (list) => {
        const running = list.filter((h) => h.proc && h.proc.exitCode === null && h.proc.signalCode === null);
        const gone = running.map((h) => new Promise((r) => h.proc.once('exit', r)));
        for (const pid of [...descendants(running.map((h) => h.proc.pid)), ...running.map((h) => h.proc.pid)]) {
            try {
                process.kill(pid, 'SIGKILL');
            }
            catch {
                /* already gone */
            }
        }
        await Promise.all(gone);
        for (const h of list)
            h.proc = undefined;
    };
    const stop = (h) => stopAll([h]);
    try {
        // set up at once, bounded: 200 hosts take the time of a few, not of 200 one after the other
        await eachBounded(hosts, STARTING, start);
    }
    catch (err) {
        await stopAll(hosts);
        throw err;
    }
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
        close: () => stopAll(hosts),
    };
}
