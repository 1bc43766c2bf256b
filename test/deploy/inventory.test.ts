import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { SpecError, UsageError } from '../../src/errors.js';
import { selectHosts } from '../../src/deploy/selectHosts.js';
import { parseSerial } from '../../src/deploy/parseSerial.js';
import { writeRelease } from './storeFixture.js';

const text = `
vars: { ferry_server: http://10.0.0.5:8080, workers: 1, tier: all }
groups:
  openstack: { children: [cinder_api, db], vars: { workers: 2, tier: openstack, region: north } }
  cinder_api: { hosts: [api1, api2, api3], vars: { workers: 4 } }
  db: { hosts: [db1] }
hosts:
  api1: { address: 10.0.1.11 }
  api2: { address: 10.0.1.12, port: 2222, user: deploy }
  api3: { address: 10.0.1.13, vars: { workers: 8 } }
  db1:
  runner: { transport: local }
`;

/**
 * Two folder hosts (local transport) h1 and h2 in group web, and a release whose web service has `step` in
 * `stage`, which touches DIR/ran-HOST: for command lines that must be refused before any host is touched.
 */
function twoFolderHosts(prefix: string, stage: 'install' | 'configure') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, 'store');
  writeRelease(store, { name: 'app', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'n.txt': 'n\n' }, [stage]: [{ command: { run: `touch ${dir}/ran-{{ inventory_hostname }}` } }] } } });
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, `groups: { web: { hosts: [h1, h2] } }\nhosts:\n${['h1', 'h2'].map((h) => `  ${h}: { transport: local, vars: { ferry_data_dir: ${dir}/${h} } }\n`).join('')}`);
  const untouched = () => {
    expect(existsSync(join(dir, 'ran-h1')) || existsSync(join(dir, 'ran-h2')), 'a step ran on a host').toBe(false);
    expect(existsSync(join(dir, 'h1')) || existsSync(join(dir, 'h2')), 'a host was touched').toBe(false);
  };
  return { store, file, untouched };
}

describe('inventory', () => {
  const inv = parseInventory(text, 'site/inventory.yaml');
  const host = (n: string) => inv.hosts.find((h) => h.name === n)!;

  it('gives host vars over child group vars over parent group vars over top-level vars', () => {
    expect(host('api3').vars).toMatchObject({ workers: 8, tier: 'openstack', region: 'north', ferry_server: 'http://10.0.0.5:8080' });
    expect(host('api1').vars.workers).toBe(4);
    expect(host('db1').vars.workers).toBe(2);
    expect(host('runner').vars.workers).toBe(1);
  });

  it('resolves membership through child groups, addresses, ports, users and transports', () => {
    expect(host('api2')).toMatchObject({ address: '10.0.1.12', port: 2222, user: 'deploy', transport: 'ssh' });
    expect(host('db1')).toMatchObject({ address: 'db1', transport: 'ssh', groups: ['all', 'openstack', 'db'] });
    expect(host('runner').transport).toBe('local');
    expect([...inv.groups.get('openstack')!].sort()).toEqual(['api1', 'api2', 'api3', 'db1']);
  });

  it('limits by host names, group names, globs and exclusions', () => {
    const names = (...p: string[]) => selectHosts(inv, p).map((h) => h.name);
    expect(names()).toEqual(['api1', 'api2', 'api3', 'db1', 'runner']);
    expect(names('db')).toEqual(['db1']);
    expect(names('api[12]', 'runner')).toEqual(['api1', 'api2', 'runner']);
    expect(names('openstack,!api2')).toEqual(['api1', 'api3', 'db1']);
    expect(names('cinder*')).toEqual(['api1', 'api2', 'api3']);
    expect(() => names('apl1')).toThrow(/--limit apl1: no host or group of site\/inventory.yaml matches/);
  });

  it('refuses --limit patterns that leave no host: nothing deployed or checked is no success', async () => {
    const names = (...p: string[]) => selectHosts(inv, p).map((h) => h.name);
    expect(() => names('cinder_api,!api*')).toThrow('--limit cinder_api,!api*: the patterns leave no host of site/inventory.yaml; nothing would be deployed or checked');
    expect(() => names('!api*', '!db1', '!runner')).toThrow(/--limit !api\*,!db1,!runner: the patterns leave no host/);
    // status --expect over no host used to say complete (exit 0); refused before any host is asked
    const dir = mkdtempSync(join(tmpdir(), 'ferry-limit-none-'));
    try {
      const file = join(dir, 'inventory.yaml');
      writeFileSync(file, 'hosts: { h1: { transport: local }, h2: { transport: local } }\n');
      const r = await ferry(['status', '-i', file, '--allow-local', '--limit', '!h*', '--expect', 'ab'.repeat(6)]);
      expect(r.stderr).toBe(`ferry: --limit !h*: the patterns leave no host of ${file}; nothing would be deployed or checked\n`);
      expect(r.code).toBe(64);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a --limit pattern too large for a regular expression with one line (exit 64), not an internal error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-limit-large-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, 'hosts: { h1: { transport: local } }\n');
    const r = await ferry(['status', '-i', file, '--allow-local', '--limit', 'a|'.repeat(20_000)]);
    expect(r.stderr).toMatch(/^ferry: --limit (a\|){100}…: not a pattern ferry can match \(Regular expression too large\)\n$/);
    expect(r.code).toBe(64);
  });

  it('refuses a --limit or --services that names nothing (an empty shell variable) instead of choosing every host or service', async () => {
    expect(() => selectHosts(inv, [''])).toThrow('--limit "" names no host or group; leave --limit out for every host of site/inventory.yaml');
    expect(() => selectHosts(inv, [' , '])).toThrow(/--limit " , " names no host or group/);
    // "!" alone reached picomatch as an empty pattern: an internal error (exit 70)
    expect(() => selectHosts(inv, ['api1,!'])).toThrow(UsageError);
    expect(() => selectHosts(inv, ['api1,!'])).toThrow('--limit api1,!: "!" needs a host or group to leave out, like !db1');
    const { store, file, untouched } = twoFolderHosts('ferry-limit-empty-', 'configure');
    const common = ['--store', store, '-i', file, '--allow-local', '--push'];
    for (const [args, line] of [
      [['deploy', 'app@1', ...common, '--limit', ''], 'ferry: --limit "" names nothing; leave --limit out for every host'],
      [['deploy', 'app@1', ...common, '--limit', 'h1', '--limit', ' , '], 'ferry: --limit " , " names nothing; leave --limit out for every host'],
      [['deploy', 'app@1', ...common, '--services', ''], 'ferry: --services "" names nothing; leave --services out for every service'],
      [['status', '-i', file, '--allow-local', '--limit', ''], 'ferry: --limit "" names nothing; leave --limit out for every host'],
    ] as const) {
      const r = await ferry([...args]);
      expect(r.stderr, args.join(' ')).toBe(`${line}\n`);
      expect(r.code).toBe(64);
      untouched();
    }
  });

  it('names the file and the place of a mistake', () => {
    expect(() => parseInventory('hosts: { a: { adress: x } }', 'inv.yaml')).toThrow(/inv.yaml: hosts.a: Unrecognized key: "adress"/);
    expect(() => parseInventory('hosts: { a: }\ngroups: { g: { hosts: [b] } }', 'inv.yaml')).toThrow(/groups.g.hosts names "b", which is not under hosts/);
    expect(() => parseInventory('hosts: { a: }\ngroups: { g: { children: [h] }, h: { children: [g] } }', 'inv.yaml')).toThrow(/groups form a cycle: g -> h -> g/);
    expect(() => parseInventory('hosts: { a: { port: 70000 } }', 'inv.yaml')).toThrow(/hosts.a.port/);
    // --limit all chose every host, not the host named all
    expect(() => parseInventory('hosts: { all: {}, b: {} }', 'inv.yaml')).toThrow('inv.yaml: "all" is both a host and a group (the implicit group of every host); --limit could not tell them apart, rename one');
  });

  it.each([
    ['a set (ssh_options then passed nothing, silently)', 'vars: { ssh_options: !!set { IdentityFile } }', /vars\.ssh_options: a YAML tag made it a Set/],
    ['an ordered map', '%YAML 1.1\n---\nvars: { ssh_options: !!omap [ { IdentityFile: /k } ] }', /vars\.ssh_options: a YAML tag made it a Map/],
    ['binary data', '%YAML 1.1\n---\ngroups: { g: { vars: { ferry_data_dir: !!binary aGVsbG8= } } }', /groups\.g\.vars\.ferry_data_dir: a YAML tag made it a (Uint8Array|Buffer)/],
    ['a timestamp, deep in a host value', '%YAML 1.1\n---\nhosts: { a: { vars: { x: [1, { when: 2001-12-14 }] } } }', /hosts\.a\.vars\.x\[1\]\.when: a YAML tag made it a Date/],
  ])('refuses %s: inventory values are plain data (exit 65)', (_label, text, message) => {
    const full = text.includes('hosts:') ? text : `${text}\nhosts: { a: }`;
    let err: unknown;
    try {
      parseInventory(full, 'inv.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as Error).message).toMatch(message);
  });

  it('takes names like constructor and toString as names, not as properties every object has', () => {
    expect(() => parseInventory('groups: { web: { hosts: [h1], children: [constructor] } }\nhosts: { h1: }', 'inv.yaml')).toThrow(/^inv.yaml: groups.web.children names "constructor", which is not a group$/);
    expect(() => parseInventory('groups: { web: { hosts: [h1, toString] } }\nhosts: { h1: }', 'inv.yaml')).toThrow(/^inv.yaml: groups.web.hosts names "toString", which is not under hosts/);
    const inv = parseInventory('groups: { web: { hosts: [constructor] }, valueOf: { hosts: [hasOwnProperty] } }\nhosts: { constructor: , hasOwnProperty: }', 'inv.yaml');
    expect(inv.hosts.map((h) => [h.name, h.groups])).toEqual([['constructor', ['all', 'web']], ['hasOwnProperty', ['all', 'valueOf']]]);
  });

  it('reads a long chain of child groups, listed from the deepest, in linear time: the deepest group wins, a cycle is still named', () => {
    // each group the child of the one before, listed last first: the depth walk was cubic (2,000 groups: 170 s)
    const n = 20_000;
    const lines = ['hosts: { h1: }', 'groups:'];
    for (let i = n - 1; i >= 0; i--) lines.push(`  g${i}: { ${i === n - 1 ? 'hosts: [h1], ' : ''}children: [${i < n - 1 ? `g${i + 1}` : ''}], vars: { level: ${i} } }`);
    const inv = parseInventory(lines.join('\n') + '\n', 'chain.yaml');
    expect(inv.hosts[0]!.vars.level).toBe(n - 1);
    expect(inv.hosts[0]!.groups).toHaveLength(n + 1);
    expect(inv.groups.get('g0')!.has('h1')).toBe(true);
    lines.push('  g20000: { children: [g0] }');
    lines[lines.length - 2] = lines[lines.length - 2]!.replace('children: [g1]', 'children: [g1, g20000]');
    expect(() => parseInventory(lines.join('\n') + '\n', 'chain.yaml')).toThrow(/^chain.yaml: groups form a cycle: g0 -> g20000 -> g0$/);
  }, 60_000);

  it.each([
    ['an address ssh would read as an option', 'hosts: { a: { address: "-oProxyCommand=touch /tmp/p" } }', /hosts\.a\.address: a host name or address \(letters, digits and \. _ : % -, not starting with - or %\)/],
    ['an address with a newline', 'hosts: { a: { address: "10.0.0.1\\nx" } }', /hosts\.a\.address: a host name or address/],
    ['a user with a space', 'hosts: { a: { user: "root -oX=y" } }', /hosts\.a\.user: a user name/],
    ['a host name with a path', 'hosts: { "../x": {} }', /hosts\.\.\.\/x: a name of up to 253 letters/],
    ['a host name with an escape', 'hosts: { "a\\e[2Jb": {} }', /hosts\["a\\x1b\[2Jb"\]: a name of/],
    ['a group name with a slash', 'hosts: { a: }\ngroups: { "x/y": { hosts: [a] } }', /groups\.x\/y: a name of/],
  ])('refuses %s, naming the place (exit 65)', (_label, text, message) => {
    let err: unknown;
    try {
      parseInventory(text, 'inv.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).exitCode).toBe(65);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toMatch(/[\x00-\x1f]/);
  });
});

describe('--serial', () => {
  it('takes counts, percentages and ramps whose last size repeats', () => {
    expect(parseSerial('1', 3)).toEqual([1, 1, 1]);
    expect(parseSerial('25%', 10)).toEqual([2, 2, 2, 2, 2]);
    expect(parseSerial('1,5,25%', 20)).toEqual([1, 5, 5, 5, 4]);
    expect(parseSerial('100%', 7)).toEqual([7]);
    expect(parseSerial('10%', 3)).toEqual([1, 1, 1]);
    expect(() => parseSerial('0', 3)).toThrow(/--serial 0: "0" is not a host count/);
    expect(() => parseSerial('1,x', 3)).toThrow(/"x"/);
  });

  it('takes a --timeout and a --progress-interval longer than a Node timer can wait (24.8 days) as that long, not as 1 ms', async () => {
    const { store, file } = twoFolderHosts('ferry-long-timers-', 'install');
    const r = await ferry(['deploy', 'app@1', '--store', store, '-i', file, '--allow-local', '--push', '--timeout', '3000000', '--progress-interval', '3000000']);
    expect(r.stderr).not.toMatch(/TimeoutOverflowWarning|did not finish/);
    expect(r.code, r.stderr).toBe(0);
    // the last summary only, not one every millisecond
    expect(r.stderr.split('\n').filter((l) => l.startsWith('progress:')).length, r.stderr).toBeLessThanOrEqual(1);
  });

  it('refuses a wrong --serial before any host is touched, not after stage and install ran on every host', async () => {
    const { store, file, untouched } = twoFolderHosts('ferry-serial-wrong-', 'install');
    for (const serial of ['0', '101%', '1,0']) {
      const r = await ferry(['deploy', 'app@1', '--store', store, '-i', file, '--allow-local', '--push', '--serial', serial, '--json']);
      expect(r.stderr).toMatch(new RegExp(`^ferry: --serial ${serial}: "[^"]+" is not a host count or a percentage from 1% to 100%; examples: 1, 25%, 1,5,25%\\n$`));
      expect(r.code).toBe(64);
      expect(r.stdout).toBe('');
      untouched();
    }
  });

  it('keeps the hosts in the order the file lists them, names that read as integers too: the first host is configured first', async () => {
    // a plain object lists keys like "10" and "2" first, ascending: the canary listed first was configured last
    expect(parseInventory('hosts:\n  canary: {}\n  "10": {}\n  2: {}\n  web1: {}\n', 'x.yaml').hosts.map((h) => h.name)).toEqual(['canary', '10', '2', 'web1']);
    const dir = mkdtempSync(join(tmpdir(), 'ferry-host-order-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const store = join(dir, 'store');
    writeRelease(store, { name: 'app', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'n.txt': 'n\n' }, configure: [{ command: { run: `echo {{ inventory_hostname }} >> ${dir}/configured` } }] } } });
    const file = join(dir, 'inventory.yaml');
    const names = ['canary', '10', '2'];
    writeFileSync(file, `groups: { web: { hosts: [canary, "10", "2"] } }\nvars: { ferry_ansible_facts_dir: "" }\nhosts:\n${names.map((h) => `  "${h}": { transport: local, vars: { ferry_data_dir: ${dir}/h${h} } }\n`).join('')}`);
    const r = await ferry(['deploy', 'app@1', '--store', store, '-i', file, '--allow-local', '--push', '--serial', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'configured'), 'utf8')).toBe('canary\n10\n2\n');
  });
});
