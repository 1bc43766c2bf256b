import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run, FERRY_BIN } from '../helpers/cli.js';
import { startSshLab, type LabHost, type SshLab } from './sshLab.js';
import { writeRelease } from './storeFixture.js';

/**
 * What the ssh transport trusts of a host and of an inventory entry, against real sshd hosts: bn1 shows a
 * Banner that forges ssh's host key warning, or1 is plain, jp1's host key is not in known_hosts.
 */
describe('the ssh transport', () => {
  let dir: string;
  let lab: SshLab;
  let store: string;
  const host = (name: string) => lab.hosts.find((h) => h.name === name) as LabHost;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-ssh-transport-'));
    store = join(dir, 'store');
    writeRelease(store, { name: 'app', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ command: { run: 'true' } }] } }, extra: [{ path: 'keys/bundle.asc', content: 'key\n', kind: 'key', services: [] }] });
    lab = await startSshLab(dir, ['bn1', 'or1', 'jp1']);
    const bn1 = host('bn1');
    await lab.stop(bn1);
    const banner = join(dir, 'banner');
    writeFileSync(banner, [
      '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
      '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
      '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
      "Host key for x';touch${IFS}/tmp/pwned;' has changed and you have requested strict checking.",
      '',
    ].join('\n'));
    appendFileSync(bn1.config, `Banner ${banner}\n`);
    await lab.start(bn1);
  });
  afterAll(async () => {
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * What a host says before it lets ferry in (its sshd's Banner, which ssh prints to stderr at the default
   * LogLevel) is the host's text, not ssh's: a host that writes ssh's "REMOTE HOST IDENTIFICATION HAS CHANGED"
   * and "Host key for NAME has changed" into its banner made ferry print `ssh-keygen -R 'NAME'` for the
   * operator to paste, NAME and its shell syntax the host's (`x';touch${IFS}/tmp/pwned;'`).
   */
  it("puts none of a host's banner into the ssh-keygen command ferry suggests (exit 72)", async () => {
    const h = host('bn1');
    // the operator's ssh_config at ssh's default LogLevel (INFO), which shows banners; a user the host refuses
    // (ssh exits 255, as for a changed host key)
    const config = join(dir, 'ssh_config_info');
    writeFileSync(config, readFileSync(lab.sshConfig, 'utf8').replace(/^ {2}LogLevel .*\n/m, ''));
    const inventory = join(dir, 'inventory-banner.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['bn1'] } }, hosts: { bn1: { address: h.address, port: h.port, user: 'nosuchuser' } } }));
    const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store, '-F', config]);
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(72);
    // the banner was shown to ssh (else this test proves nothing): ferry saw the forged warning
    expect(out, out).toMatch(/bn1: unreachable: host bn1 \(nosuchuser@127\.0\.0\.1:\d+\): /);
    expect(out, out).not.toContain('touch');
    // any ssh-keygen command suggested names the host as the inventory gives it, nothing of the banner's
    for (const m of out.matchAll(/ssh-keygen -R ('[^']*'|\S+)/g)) expect(m[1], out).toBe(`'[127.0.0.1]:${h.port}'`);
  });

  /**
   * Each inventory host is reached the way its own entry says. ssh's %C names a master connection by host,
   * port and user only: an entry with another host's address and port but a ProxyJump of its own (a host of
   * another site behind its bastion, or a hostile entry) rode the master the first one opened, its own route
   * never used, and whichever connected first carried the other's commands.
   */
  it("gives two inventory hosts with one address and port but different ssh_options a connection each: the second goes through its own ProxyJump (here none answers), not over the first's", async () => {
    const h = host('or1');
    const inventory = join(dir, 'inventory-route.yaml');
    writeFileSync(
      inventory,
      stringify({
        groups: { web: { hosts: ['direct', 'jumped'] } },
        hosts: {
          direct: { address: h.address, port: h.port, vars: { ferry_data_dir: `${h.root}/direct` } },
          // the jump host is a port nothing listens on: reached its own way, this host is unreachable
          jumped: { address: h.address, port: h.port, vars: { ferry_data_dir: `${h.root}/jumped`, ssh_options: { ProxyJump: 'root@127.0.0.1:1' } } },
        },
      }),
    );
    // one host at a time, in the file's order: the first one's master is up when the second connects
    const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store, '-F', lab.sshConfig, '--forks', '1']);
    const out = r.stdout + r.stderr;
    expect(out, out).toMatch(/^direct +web +stage +run/m);
    expect(out, out).toMatch(/^jumped: unreachable: host jumped \(127\.0\.0\.1:\d+\): /m);
    expect(out, out).not.toMatch(/^direct: unreachable/m);
    expect(r.code, out).toBe(72);
  });

  /**
   * ferry runs ssh with BatchMode=yes, so that nothing asks the operator anything; but for a ProxyJump ssh
   * starts another ssh per hop (`ssh -l USER -p PORT -W [%h]:%p HOP`) with none of ferry's options. An
   * inventory's ProxyJump to a host of its choosing had that ssh ask on the operator's terminal whether to
   * trust the host's key (and, for a host taking passwords, for "root@HOST's password:"), in the middle of a
   * deploy, the connection held until it was answered.
   */
  it("asks nothing on the operator's terminal for a ProxyJump host of the inventory's choosing: that hop fails like ferry's own ssh (exit 72), known_hosts unchanged", async () => {
    const target = host('or1');
    const jump = host('jp1');
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, readFileSync(knownHosts, 'utf8').split('\n').filter((l) => !l.startsWith(`[${jump.address}]:${jump.port} `)).join('\n'));
    const before = readFileSync(knownHosts, 'utf8');
    const inventory = join(dir, 'inventory-jump.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['jumped'] } }, hosts: { jumped: { address: target.address, port: target.port, vars: { ssh_options: { ProxyJump: `root@${jump.address}:${jump.port}` } } } } }));
    // plan asks with one command per host, deploy over the connection its hold keeps (ssh's two ways of starting)
    for (const [verb, ...args] of [['plan'], ['deploy', '--push']]) {
      // under a terminal (script(1) gives ferry one), as an operator runs it; "yes" typed ahead for any question
      const command = [process.execPath, FERRY_BIN, verb!, ...args, 'app@1', '-i', inventory, '--store', store, '-F', lab.sshConfig].map((a) => `'${a}'`).join(' ');
      const r = await run('script', ['-qefc', command, '/dev/null'], { input: 'yes\n' });
      expect(r.stdout, r.stdout).toMatch(/^jumped: (unreachable|failed): host jumped \(127\.0\.0\.1:\d+\): /m);
      expect(r.stdout, r.stdout).not.toMatch(/authenticity of host|continue connecting|password/i);
      expect(r.code, r.stdout).toBe(72);
      expect(readFileSync(knownHosts, 'utf8')).toBe(before);
    }
  });
});
