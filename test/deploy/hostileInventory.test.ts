import { existsSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

const KEY = { path: 'keys/bundle.asc', content: 'key\n', kind: 'key' as const, services: [] };

/**
 * An inventory says how to reach hosts; whoever wrote it must not run a program on the runner. ssh runs
 * several options' values as shell commands (ProxyCommand, LocalCommand, KnownHostsCommand...), and hands
 * a host address to a ProxyCommand of the operator's ssh_config as %h. Each is refused with exit 65 and one
 * line before ssh starts.
 */
describe('a hostile inventory', () => {
  let dir: string;
  let store: string;
  const marker = () => join(dir, 'ran-on-the-runner');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-inventory-'));
    store = join(dir, 'store');
    writeRelease(store, { name: 'app', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ command: { run: 'true' } }] } }, extra: [KEY] });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => rmSync(marker(), { force: true }));

  async function planWith(host: Record<string, unknown>, args: string[] = []) {
    const inventory = join(dir, `inventory-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { address: '127.0.0.1', port: 1, ...host } } }));
    return ferry(['plan', 'app@1', '-i', inventory, '--store', store, ...args]);
  }

  function expectRefused(r: { code: number; stderr: string }, pattern: RegExp) {
    expect(existsSync(marker()), 'a command of the inventory ran on the runner').toBe(false);
    expect(r.code, r.stderr).toBe(65);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  }

  it.each([
    ['ProxyCommand', { ProxyCommand: `sh -c 'touch ${'MARK'}'` }],
    ['proxycommand in other case', { proxycommand: `sh -c 'touch ${'MARK'}'` }],
    ['LocalCommand with PermitLocalCommand', { PermitLocalCommand: true, LocalCommand: 'touch MARK' }],
    ['KnownHostsCommand', { KnownHostsCommand: '/bin/sh -c "touch MARK"' }],
    ['Match exec', { Match: 'exec "touch MARK"' }],
    ['PKCS11Provider', { PKCS11Provider: '/tmp/evil.so' }],
    ['a ControlPath of its own', { ControlPath: '/tmp/x' }],
    // not a program, but a line of the inventory's choosing appended to a file of the runner (a shell's rc
    // file: brace expansion in the alias runs at the next login), written before ssh authenticates
    ['a known_hosts file and an alias of its own', { StrictHostKeyChecking: 'no', UserKnownHostsFile: 'MARK', HashKnownHosts: 'no', HostKeyAlias: '{touch,pwned}' }],
    ['a global known_hosts file', { GlobalKnownHostsFile: 'MARK' }],
    ['host keys learned into known_hosts', { UpdateHostKeys: 'yes' }],
    // the operator's agent socket, environment or local ports handed to the host
    ['the agent socket forwarded as a remote socket', { ForwardAgent: 'no', RemoteForward: '/tmp/stolen.sock /run/user/0/agent.sock' }],
    ['a local forward', { LocalForward: '2222 127.0.0.1:22' }],
    ['a dynamic forward', { DynamicForward: '1080' }],
    ["the runner's whole environment", { SendEnv: '*' }],
    ['environment set on the host', { SetEnv: 'LD_PRELOAD=/tmp/x.so' }],
    ['another agent socket', { IdentityAgent: '/tmp/other.sock' }],
    ['host name canonicalization', { CanonicalizeHostname: 'always' }],
    ['BatchMode turned off', { BatchMode: 'no' }],
  ])('refuses ssh_options %s before ssh runs', async (_label, options) => {
    const withMarker = JSON.parse(JSON.stringify(options).replaceAll('MARK', marker()));
    const r = await planWith({ vars: { ssh_options: withMarker } });
    expectRefused(r, /^ferry: inventory .*ssh_options\.\w+: ferry does not pass this ssh option from an inventory/);
  });

  it.each([
    ['a newline that adds an option', { ProxyJump: 'bastion\nProxyCommand touch MARK' }, /is not a single ssh option value/],
    ['a jump host read as an option', { ProxyJump: 'bastion,-oProxyCommand=touch MARK' }, /is not a single ssh option value/],
    // ssh runs the hops through a shell: "b[ac]" became the names of files "ba" and "bc" in ferry's folder, two words
    ['a jump host that is a glob', { ProxyJump: 'root@b[ac]:22' }, /is not a single ssh option value/],
    ['a jump user that is a glob', { ProxyJump: 'u[-]x@bastion' }, /is not a single ssh option value/],
    ['a keyword with a space', { 'ProxyJump bastion ProxyCommand': 'x' }, /is not an ssh option keyword/],
    ['the runner agent forwarded to the host', { ForwardAgent: 'yes' }, /does not forward the runner's ssh agent/],
    ['the agent forwarded through a socket path', { forwardagent: '/run/user/0/agent.sock' }, /does not forward the runner's ssh agent/],
    ['X11 forwarding', { ForwardX11Trusted: true }, /does not forward the runner's ssh agent or X display/],
    // a ProxyCommand of the operator's ssh_config receives these as %h, %r, %p: they are the host's checked fields
    ['a host name that is not the checked address', { Hostname: 'x$(touch MARK)' }, /ssh_options\.Hostname: give the host's address as the inventory's address field/],
    ['a user that is not the checked user', { user: 'x$(touch MARK)' }, /ssh_options\.user: give the host's user as the inventory's user field/],
    ['a port that is not the checked port', { Port: 22 }, /ssh_options\.Port: give the host's port as the inventory's port field/],
  ])('refuses ssh_options with %s', async (_label, options, message) => {
    const r = await planWith({ vars: { ssh_options: JSON.parse(JSON.stringify(options).replaceAll('MARK', marker())) } });
    expectRefused(r, message);
  });

  it('keeps options that only say how to connect', async () => {
    const r = await planWith({
      vars: {
        ssh_options: {
          ConnectionAttempts: 1,
          KexAlgorithms: 'curve25519-sha256',
          ProxyJump: 'ssh://jump@127.0.0.1:1,admin@[::1]:2222,bastion.example',
          ForwardAgent: 'no',
          forwardx11: false,
          StrictHostKeyChecking: 'accept-new',
          IdentityFile: join(dir, 'id_ed25519'),
          IdentitiesOnly: true,
          ServerAliveInterval: 10,
          ConnectTimeout: 5,
          LogLevel: 'ERROR',
        },
      },
    });
    // the host is unreachable: the plan fails on the connection, not on the inventory
    expect(r.code, r.stderr).not.toBe(65);
  });

  it('refuses an address holding shell syntax, which an ssh_config ProxyCommand would run as %h', async () => {
    const config = join(dir, 'ssh_config');
    writeFileSync(config, 'Host *\n  ProxyCommand /bin/sh -c "exec true %h"\n');
    for (const address of [`$(touch${'${IFS}'}${marker()})`, `\`touch${'${IFS}'}${marker()}\``, 'a;touch', '-oProxyCommand=x']) {
      const r = await planWith({ address }, ['-F', config]);
      expectRefused(r, /^ferry: .*address: a host name or address/);
    }
  });

  it('refuses an address holding brackets, which the shell of an ssh_config ProxyCommand expands to a file name like an option', async () => {
    // `[-]x` matches a file named "-x" in the runner's folder: the ProxyCommand's program got -x as an option
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    writeFileSync(join(cwd, '-x'), '');
    const config = join(dir, 'ssh_config_glob');
    writeFileSync(config, `Host *\n  ProxyCommand /bin/sh -c 'case "$0" in -*) touch ${marker()};; esac; exit 1' %h\n`);
    const inventory = join(dir, 'inventory-glob.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { address: '[-]x', port: 1 } } }));
    const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store, '-F', config], { cwd });
    expectRefused(r, /^ferry: .*address: a host name or address/);
  });
});

describe('an inventory that is hostile by size or by its values', () => {
  let dir: string;
  let store: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-inventory-size-'));
    store = join(dir, 'store');
    writeRelease(store, { name: 'app', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ command: { run: 'true' } }] } }, extra: [KEY] });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an inventory with many schema problems with one line that names the first few (exit 65)', async () => {
    const inventory = join(dir, 'many.yaml');
    // groups not a map, and eight hosts that are no host: nine problems
    writeFileSync(inventory, `groups: 5\nhosts:\n${Array.from({ length: 8 }, (_, i) => `  h${i}: { port: "x" }\n`).join('')}`);
    const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry: .*many\.yaml: hosts\.h0: .*; .*many\.yaml: hosts\.h1: .*; and 4 more\n$/);
  });

  it('refuses values that refer to each other in a loop, with one line (exit 65)', async () => {
    const inventory = join(dir, 'loop.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { transport: 'local', vars: { a: '{{ b }}', b: '{{ a }}', ferry_data_dir: '{{ a }}' } } } }));
    const r = await ferry(['plan', 'app@1', '--allow-local', '-i', inventory, '--store', store]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    // the loop itself is named, not a path that happens to hold "{{ b }}"
    expect(r.stderr).toMatch(/vars\.a still refers to itself once every value is resolved: the values refer to each other in a loop/);
    // a value that refers to itself, used only in a command's shell text, is refused the same way
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { transport: 'local', vars: { a: '{{ a }}', ferry_data_dir: join(dir, 'host') } } } }));
    const self = await ferry(['plan', 'app@1', '--allow-local', '-i', inventory, '--store', store]);
    expect(self.code, self.stderr).toBe(65);
    expect(self.stderr).toMatch(/vars\.a still refers to itself/);
  });

  it('refuses values that double at each level (40 levels: 2^40 copies) with one line, not by running out of memory', async () => {
    const inventory = join(dir, 'double.yaml');
    const vars: Record<string, string> = { v40: 'x'.repeat(16), ferry_data_dir: `${join(dir, 'h')}/{{ v0 }}` };
    for (let i = 0; i < 40; i++) vars[`v${i}`] = `{{ v${i + 1} }}{{ v${i + 1} }}`;
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { transport: 'local', vars } } }));
    const r = await ferry(['plan', 'app@1', '--allow-local', '-i', inventory, '--store', store]);
    expect([65, 72], r.stderr).toContain(r.code);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  });

  it.each([
    // the apt step writes `deb [signed-by=DATA/keys/…] file:DATA/bundles/…/apt …` into a sources list: a newline
    // adds a source of the inventory's choosing, a space or "]" another option
    ['ferry_data_dir', '/srv/x\ndeb [trusted=yes] http://10.0.0.1/ bookworm main\n#'],
    ['ferry_data_dir', '/srv/x trusted=yes'],
    ['ferry_data_dir', '/srv/x]'],
    ['ferry_data_dir', '/srv/x,/etc/apt/trusted.gpg'],
    ['ferry_data_dir', '/srv/x\0y'],
    ['ferry_facts_dir', '/srv/$(touch /tmp/x)'],
    ['ferry_ansible_facts_dir', '/srv/a\nb'],
  ])('refuses %s %j, which would not stay one word in a host file, with one line before any host is touched (exit 65)', async (name, value) => {
    const root = mkdtempSync(join(dir, 'paths-'));
    const inventory = join(root, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { transport: 'local', vars: { ferry_data_dir: join(root, 'data'), ferry_ansible_facts_dir: '', [name]: value } } } }));
    const r = await ferry(['plan', 'app@1', '--allow-local', '-i', inventory, '--store', store]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`vars\\.${name} must be an absolute path of letters, digits and`));
    expect(existsSync(join(root, 'data')), 'the host was touched').toBe(false);
  });

  it('refuses values that together build more text than a template may (a list of references to a 16 MiB value) with one line, not an internal error', async () => {
    const inventory = join(dir, 'wide.yaml');
    // 16^6 characters from a 16-character value, then 40 references to it: 640 Mi characters held at once
    const vars = { s: 'x'.repeat(16), big: `{{ s${' | replace("x", s)'.repeat(5)} }}`, copies: Array(40).fill('{{ big }}'), ferry_data_dir: join(dir, 'wide') };
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { transport: 'local', vars } } }));
    const r = await ferry(['plan', 'app@1', '--allow-local', '-i', inventory, '--store', store]);
    expect(r.code, r.stderr).toBe(72);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry: inventory .*wide\.yaml, host h1: vars\.copies\[\d+\]: cannot render .*: the template builds more than 64 MiB of text/);
  });

  it.each([['ferry_keep_releases'], ['ferry_policy_rc_timeout']])('refuses a %s too large to print as digits (1e21), which a host script would misread, with one line (exit 65)', async (name) => {
    // String(1e21) is "1e+21": "tail -n 1e+21" fails, so the prune kept no older release; "$(( … + 1e+21 ))" is not arithmetic
    const root = mkdtempSync(join(dir, 'numbers-'));
    const inventory = join(root, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { transport: 'local', vars: { ferry_data_dir: join(root, 'data'), ferry_ansible_facts_dir: '', [name]: 1e21 } } } }));
    const r = await ferry(['plan', 'app@1', '--allow-local', '-i', inventory, '--store', store]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`vars\\.${name} must be a whole number`));
  });

  it.each([
    ['.nan', 'a: .nan', 'vars.a: NaN'],
    ['.inf in a group', 'b: [1, -.inf]', 'groups.web.vars.b[1]: -Infinity'],
    ['1e400 on a host', 'c: { d: 1e400 }', 'hosts.h1.vars.c.d: Infinity'],
  ])('refuses a number that is not finite (%s) with one line before any host is touched (exit 65), not an internal error', async (_label, value, named) => {
    const inventory = join(dir, `nan-${Math.random().toString(36).slice(2)}.yaml`);
    const where = value.startsWith('a') ? 'top' : value.startsWith('b') ? 'group' : 'host';
    writeFileSync(
      inventory,
      `${where === 'top' ? `vars: { ${value} }\n` : ''}groups: { web: { hosts: [h1]${where === 'group' ? `, vars: { ${value} }` : ''} } }\nhosts: { h1: { address: 127.0.0.1, port: 1${where === 'host' ? `, vars: { ${value} }` : ''} } }\n`,
    );
    const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr).toBe(`ferry: ${inventory}: ${named} is not a finite number; quote it to keep it as text\n`);
  });

  it('refuses an inventory that is not a regular file (a link to /dev/zero, a FIFO) or is larger than 16 MiB at once, without reading it: one line (exit 65)', async () => {
    for (const [name, make, why] of [
      ['zero', (p: string) => symlinkSync('/dev/zero', p), 'is not a regular file'],
      ['fifo', async (p: string) => expect((await run('mkfifo', [p])).code).toBe(0), 'is not a regular file'],
      ['huge', (p: string) => truncateSync((writeFileSync(p, ''), p), (16 << 20) + 1), `is ${(16 << 20) + 1} bytes, larger than ${16 << 20} bytes`],
    ] as const) {
      const inventory = join(dir, `${name}-${Math.random().toString(36).slice(2)}.yaml`);
      await make(inventory);
      const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store]);
      expect(r.code, r.stderr).toBe(65);
      expect(r.stderr).toBe(`ferry: ${inventory} ${why}: not an inventory\n`);
    }
  });

  it('refuses a YAML alias bomb as an inventory, with one line (exit 65)', async () => {
    const inventory = join(dir, 'bomb.yaml');
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    lines.push('hosts: { h1: { vars: { big: *a11 } } }', 'groups: { web: { hosts: [h1] } }');
    writeFileSync(inventory, lines.join('\n') + '\n');
    const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  });

  it('still refuses a key given twice, in the hosts or in a map of vars (exit 65)', async () => {
    for (const [name, text] of [
      ['dup-host.yaml', 'hosts:\n  a: {}\n  a: { address: 10.0.0.9 }\ngroups: { web: { hosts: [a] } }\n'],
      ['dup-var.yaml', 'hosts:\n  a: { vars: { x: 1, x: 2 } }\ngroups: { web: { hosts: [a] } }\n'],
    ] as const) {
      writeFileSync(join(dir, name), text);
      const r = await ferry(['plan', 'app@1', '-i', join(dir, name), '--store', store]);
      expect(r.code, r.stderr).toBe(65);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/not valid YAML: Map keys must be unique; "(a|x)" is given twice/);
    }
  });

  it('refuses a key given twice as the inventory reads it: 1 and "1", ~ and "", an anchored key and its alias (exit 65)', async () => {
    for (const [name, text, key] of [
      ['dup-number.yaml', 'hosts:\n  a: { vars: { 1: x, "1": y } }\ngroups: { web: { hosts: [a] } }\n', '1'],
      ['dup-bool.yaml', 'hosts:\n  a: { vars: { true: x, "true": y } }\ngroups: { web: { hosts: [a] } }\n', 'true'],
      ['dup-null.yaml', 'hosts:\n  a: { vars: { ~: x, "": y } }\ngroups: { web: { hosts: [a] } }\n', ''],
      ['dup-alias.yaml', 'hosts:\n  a:\n    vars:\n      &s ferry_server: http://10.0.0.1:8080\n      port: 1\n      *s : http://10.6.6.6:8080\ngroups: { web: { hosts: [a] } }\n', 'ferry_server'],
    ] as const) {
      writeFileSync(join(dir, name), text);
      const r = await ferry(['plan', 'app@1', '-i', join(dir, name), '--store', store]);
      expect(r.code, r.stderr).toBe(65);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toContain(`not valid YAML: Map keys must be unique; ${JSON.stringify(key)} is given twice`);
    }
  });

  it.each([
    ['a mapping', 'hosts:\n  a: { vars: { ? { x: 1 } : y } }\ngroups: { web: { hosts: [a] } }\n'],
    // toJS names it "[ a, b ]": a plain key of that text replaced it silently
    ['a list, then the text toJS makes of it', 'hosts:\n  a: { vars: { ? [p, q] : 1, "[ p, q ]": 2 } }\ngroups: { web: { hosts: [a] } }\n'],
    ['a YAML 1.1 binary value', '%YAML 1.1\n---\nhosts:\n  a: { vars: { ? !!binary aGk= : 1 } }\ngroups: { web: { hosts: [a] } }\n'],
    ['a mapping, as a host name', 'hosts:\n  ? { a: 1 }\n  : {}\ngroups: { web: { hosts: [a] } }\n'],
  ])('refuses %s as a key with one line (exit 65), no Node warning on stderr', async (_label, text) => {
    const inventory = join(dir, `key-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(inventory, text);
    const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr).toMatch(/^ferry: .*: not valid YAML: a key is text, a number, a boolean or none, not a mapping, a list or a tagged value[^\n]*\n$/);
  });

  it('reads an inventory of 100,000 hosts and answers for them (or says why not) without running out of memory', async () => {
    const inventory = join(dir, 'big.yaml');
    const hosts: string[] = [];
    for (let i = 0; i < 100_000; i++) hosts.push(`  h${i}: { address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}, port: 1 }`);
    writeFileSync(inventory, `hosts:\n${hosts.join('\n')}\ngroups:\n  web: { hosts: [h0] }\n`);
    const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store, '--limit', 'nomatch*']);
    expect(r.code, r.stderr).not.toBe(74);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:')), r.stderr).toHaveLength(1);
  }, 60_000);
});

/**
 * The local transport runs a host's commands, and so the release's steps, on the runner itself. Whoever
 * writes the inventory (another team than the operator, often) must not be able to choose that: each
 * command that reaches hosts refuses a selected host with the local transport unless the operator passes
 * --allow-local, with one line (exit 64) before anything runs or is written.
 */
describe('an inventory that makes the runner one of its hosts', () => {
  let dir: string;
  let store: string;
  const marker = () => join(dir, 'ran-on-the-runner');
  const dataDir = () => join(dir, 'data');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-inventory-local-'));
    store = join(dir, 'store');
    writeRelease(store, { name: 'app', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ command: { run: `touch ${marker()}` } }] } }, extra: [KEY] });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    rmSync(marker(), { force: true });
    rmSync(dataDir(), { recursive: true, force: true });
  });

  const write = (name: string, inv: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, stringify(inv));
    return file;
  };
  const byHost = () => write('by-host.yaml', { groups: { web: { hosts: ['h1'] } }, hosts: { h1: { transport: 'local', vars: { ferry_data_dir: dataDir(), ferry_ansible_facts_dir: '' } } } });
  // the same through a variable of a group, beside a host reached over ssh
  const byVar = () =>
    write('by-var.yaml', {
      groups: { web: { hosts: ['h1', 'far'], vars: { ferry_data_dir: dataDir(), ferry_ansible_facts_dir: '' } }, sneaky: { hosts: ['h1'], vars: { ferry_transport: 'local' } } },
      hosts: { h1: {}, far: { address: '127.0.0.1', port: 1 } },
    });

  function expectRefused(r: { code: number; stderr: string }) {
    expect(r.code, r.stderr).toBe(64);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ferry: .*: host h1 uses the local transport: its commands and the release's steps would run on this machine as \S+; pass --allow-local if that is meant$/);
    expect(existsSync(marker()), 'a step of the release ran on the runner').toBe(false);
    expect(existsSync(dataDir()), 'ferry wrote on the runner as a host').toBe(false);
  }

  // the store is made in beforeAll, after it.each reads this table: each row gives its arguments later
  it.each([
    ['deploy', () => ['deploy', 'app@1', '--store', store, '--push']],
    ['rollback', () => ['rollback', 'app', '--store', store]],
    ['plan', () => ['plan', 'app@1', '--store', store]],
    ['deploy --check', () => ['deploy', 'app@1', '--store', store, '--check']],
    ['status', () => ['status']],
    ['gc --inventory', () => ['gc', '--keep', '1', '--store', store, '--dry-run']],
  ])('%s refuses it without --allow-local, whether the host entry or a group variable asks', async (_label, args) => {
    for (const inventory of [byHost(), byVar()]) expectRefused(await ferry([...args(), '-i', inventory]));
  });

  it('runs the release there when the operator passes --allow-local, and asks nothing when --limit leaves that host out', async () => {
    const r = await ferry(['deploy', 'app@1', '--store', store, '--push', '-i', byHost(), '--allow-local']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(marker())).toBe(true);
    rmSync(marker());
    const far = await ferry(['plan', 'app@1', '--store', store, '-i', byVar(), '--limit', 'far']);
    expect(far.stderr).not.toMatch(/local transport/);
    expect(existsSync(marker())).toBe(false);
  });
});
