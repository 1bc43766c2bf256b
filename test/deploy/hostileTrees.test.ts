import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { ferry, stepEvents } from '../helpers/cli.js';
import { ensureFileScript } from '../../src/deploy/steps/ensureFileScript.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { craftTar } from '../helpers/craft.js';
import { writeRelease } from './storeFixture.js';

/**
 * A signed bundle whose rootfs tarball was written by someone hostile, deployed to a host of the runner
 * itself (transport local, as the tests run it: the same scripts as over ssh). Whatever the tarball
 * holds, the rootfs step writes only inside DEST.d/ID.
 */
describe('a hostile rootfs tarball deployed with the rootfs step', () => {
  let dir: string;
  const host = () => join(dir, 'host');
  const inventory = () => join(dir, 'inventory.yaml');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-trees-'));
    writeFileSync(inventory(), stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: host(), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a member named .ferry-rootfs that links out of the tree: the marker is written inside the tree, not through the link', async () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'victim\n');
    const store = join(dir, 'store-marker');
    const tarball = craftTar([
      { path: './etc/ok.txt', data: Buffer.from('ok\n') },
      { path: './.ferry-rootfs', type: 'SymbolicLink', linkpath: victim },
    ]);
    writeRelease(store, {
      name: 'marker',
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], install: [{ rootfs: { name: 'base', dest: '{{ root }}/srv/base' } }] } },
      extra: [{ path: 'rootfs/base.tar', content: tarball, kind: 'rootfs', services: ['web'] }],
      artifacts: { rootfs: { base: { path: 'rootfs/base.tar' } } },
    });
    const r = await ferry(['deploy', 'marker@1', '--allow-local', '-i', inventory(), '--store', store, '--push']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('victim\n');
    expect(readFileSync(join(host(), 'srv/base/etc/ok.txt'), 'utf8')).toBe('ok\n');
    const marker = join(host(), 'srv/base/.ferry-rootfs');
    expect(lstatSync(marker).isFile()).toBe(true);
    expect(existsSync(marker)).toBe(true);
  });
});

/**
 * A file step's owner and group come from the spec or, through {{ }}, from the inventory: a value that
 * is no user or group name (an option to chown, OWNER:GROUP) must not reach chown on the host.
 */
describe('file step owners and groups that are not names', () => {
  let dir: string;
  const host = () => join(dir, 'host');
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-owner-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['an option for chown', '--reference=REF'],
    ['owner:group', 'root:root'],
    ['a name with a space', 'root daemon'],
  ])('%s from the inventory fails the host before the file is written (exit 72)', async (label, value) => {
    const ref = join(dir, 'ref');
    writeFileSync(ref, 'ref\n');
    const store = join(dir, `store-${label.replace(/\W+/g, '-')}`);
    writeRelease(store, { name: 'owner', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'note.txt': 'x\n' }, configure: [{ file: { content: 'hello\n', dest: '{{ root }}/etc/app.conf', owner: '{{ app_user }}' } }] } } });
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: host(), app_user: value.replace('REF', ref), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
    const r = await ferry(['deploy', 'owner@1', '--allow-local', '-i', inventory, '--store', store, '--push']);
    expect(r.code, r.stderr + r.stdout).toBe(72);
    expect(r.stderr + r.stdout).toMatch(/host runner, service web, configure file: owner: a user name or a numeric id\n/);
    expect(existsSync(join(host(), 'etc/app.conf'))).toBe(false);
  });
});

/**
 * A step's path (file and template dest, rootfs and git dest, venv path) is absolute and names one
 * place: no `.` or `..` segment, which an inventory value could bring in to point the step elsewhere,
 * and not `/` itself, where a tree step's DEST.d/ID would become the relative `.d/ID`.
 */
describe('step paths that leave their place', () => {
  let dir: string;
  const host = () => join(dir, 'host');
  const inventory = (vars: Record<string, unknown> = {}) => {
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: host(), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '', ...vars } } } }));
    return file;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-dest-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a file dest that an inventory value makes climb out with .. fails the host, and nothing is written', async () => {
    const store = join(dir, 'store-dotdot');
    writeRelease(store, { name: 'dotdot', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'note.txt': 'x\n' }, configure: [{ file: { content: 'hello\n', dest: '{{ root }}/etc/{{ site }}.conf' } }] } } });
    const r = await ferry(['deploy', 'dotdot@1', '--allow-local', '-i', inventory({ site: '../../escaped' }), '--store', store, '--push']);
    expect(r.code, r.stderr + r.stdout).toBe(72);
    expect(r.stderr + r.stdout).toMatch(/host runner, service web, configure file: dest: an absolute path without \. or \.\. segments, not \/ itself\n/);
    expect(existsSync(join(dir, 'escaped.conf'))).toBe(false);
    expect(existsSync(join(host(), 'etc'))).toBe(false);
  });

  it('a file dest that is a folder on the host fails the host: nothing is written into the folder, its mode is kept', async () => {
    const store = join(dir, 'store-folder');
    writeRelease(store, { name: 'folder', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'note.txt': 'x\n' }, configure: [{ file: { content: 'hello\n', dest: '{{ root }}/etc/app', mode: '0600' } }] } } });
    mkdirSync(join(host(), 'etc/app'), { recursive: true });
    chmodSync(join(host(), 'etc/app'), 0o755);
    // the host's web is an earlier case's release: replaced
    const r = await ferry(['deploy', 'folder@1', '--allow-local', '-i', inventory(), '--store', store, '--push', '--take-over', '*']);
    expect(r.code, r.stderr + r.stdout).toBe(72);
    expect(r.stdout).toMatch(/mv: cannot overwrite directory '.*\/etc\/app' with non-directory/);
    expect(readdirSync(join(host(), 'etc/app'))).toEqual([]);
    expect(readdirSync(join(host(), 'etc'))).toEqual(['app']);
    expect((statSync(join(host(), 'etc/app')).mode & 0o7777).toString(8)).toBe('755');
  });

  it('a file dest that is a symbolic link is replaced by the file, never chmod-ed through, and found in place the next time', async () => {
    const store = join(dir, 'store-link');
    writeRelease(store, { name: 'link', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'note.txt': 'x\n' }, configure: [{ file: { content: 'same\n', dest: '{{ root }}/etc/linked.conf', mode: '0600' } }] } } });
    const target = join(dir, 'target.conf');
    writeFileSync(target, 'same\n');
    chmodSync(target, 0o644);
    mkdirSync(join(host(), 'etc'), { recursive: true });
    symlinkSync(target, join(host(), 'etc/linked.conf'));
    const inv = inventory();
    const check = await ferry(['plan', 'link@1', '--allow-local', '-i', inv, '--store', store, '--check']);
expect(check.code, check.stderr + check.stdout).toBe(2);
expect(check.stdout).toMatch(/linked\.conf: state: want regular file, host has symbolic link\n/);
    const first = await ferry(['deploy', 'link@1', '--allow-local', '-i', inv, '--store', store, '--push', '--json', '--take-over', '*']);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(stepEvents(first).filter((e) => e.step === 'file').map((e) => e.detail)).toEqual(['content']);
    expect(lstatSync(join(host(), 'etc/linked.conf')).isFile()).toBe(true);
    expect((statSync(join(host(), 'etc/linked.conf')).mode & 0o7777).toString(8)).toBe('600');
    expect((statSync(target).mode & 0o7777).toString(8)).toBe('644');
    const again = await ferry(['deploy', 'link@1', '--allow-local', '-i', inv, '--store', store, '--push', '--json', '--force', 'configure']);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(stepEvents(again).filter((e) => e.step === 'file').map((e) => e.changed)).toEqual([false]);
  });

  it('a link swapped in at a file dest right after the rename (a folder someone else can write) is never chmod-ed through', () => {
    // the attacker wins the race every time: an mv that renames, then puts a link to the victim at DEST
    const shim = join(dir, 'racing-bin');
    mkdirSync(shim, { recursive: true });
    const victim = join(dir, 'victim.conf');
    writeFileSync(victim, 'victim\n');
    chmodSync(victim, 0o644);
    writeFileSync(join(shim, 'mv'), `#!/bin/sh\nmv=$(PATH=/usr/bin:/bin command -v mv)\n"$mv" "$@" || exit\nfor last; do :; done\nrm -f "$last"\nln -s ${victim} "$last"\n`);
    chmodSync(join(shim, 'mv'), 0o755);
    const dest = join(host(), 'shared/app.conf');
    const run = (content: string, mode: string) =>
      execFileSync('/bin/sh', ['-c', ensureFileScript({ dest, sha256: sha256Hex(content), mode })], { input: content, env: { ...process.env, PATH: `${shim}:${process.env.PATH}` } }).toString();
    expect(run('new\n', '0600')).toBe('changed: content\n');
    expect((statSync(victim).mode & 0o7777).toString(8)).toBe('644');
    expect(readFileSync(victim, 'utf8')).toBe('victim\n');
    // a mode to fix on a file whose content is right goes the same way: a new file renamed over it
    rmSync(dest);
    writeFileSync(dest, 'same\n');
    chmodSync(dest, 0o644);
    expect(run('same\n', '0640')).toBe('changed: mode\n');
    expect((statSync(victim).mode & 0o7777).toString(8)).toBe('644');
    // without the race: the mode is fixed in place of the old file, the content kept, and a second run changes nothing
    rmSync(dest);
    writeFileSync(dest, 'same\n');
    chmodSync(dest, 0o644);
    const plain = (mode: string) => execFileSync('/bin/sh', ['-c', ensureFileScript({ dest, sha256: sha256Hex('same\n'), mode })], { input: 'same\n' }).toString();
    expect(plain('0640')).toBe('changed: mode\n');
    expect(lstatSync(dest).isFile()).toBe(true);
    expect((statSync(dest).mode & 0o7777).toString(8)).toBe('640');
    expect(readFileSync(dest, 'utf8')).toBe('same\n');
    expect(plain('0640')).toBe('');
    expect(readdirSync(join(host(), 'shared'))).toEqual(['app.conf']);
  });

  it.skipIf(process.getuid?.() !== 0)('a file dest in a folder another user can write: that user cannot swap a link in where the new file gets its mode', () => {
    // the other user (nobody) wins the race every time: just before chmod, the file chmod is given becomes a link to the victim
    const shim = join(dir, 'racing-chmod');
    mkdirSync(shim, { recursive: true });
    const victim = join(dir, 'victim-chmod.conf');
    writeFileSync(victim, 'victim\n');
    chmodSync(victim, 0o644);
    chmodSync(dir, 0o755);
    writeFileSync(
      join(shim, 'chmod'),
      `#!/bin/sh\nfor last; do :; done\nrunuser -u nobody -- sh -c 'rm -f "$1" && ln -s "$2" "$1"' sh "$last" ${victim} 2>/dev/null\nexec $(PATH=/usr/bin:/bin command -v chmod) "$@"\n`,
    );
    chmodSync(join(shim, 'chmod'), 0o755);
    const shared = join(host(), 'open-to-nobody');
    mkdirSync(shared, { recursive: true });
    chmodSync(host(), 0o755);
    chmodSync(shared, 0o777);
    const dest = join(shared, 'secret.conf');
    const out = execFileSync('/bin/sh', ['-c', ensureFileScript({ dest, sha256: sha256Hex('secret\n'), mode: '0600' })], { input: 'secret\n', env: { ...process.env, PATH: `${shim}:${process.env.PATH}` } }).toString();
    expect(out).toBe('changed: content\n');
    expect((statSync(victim).mode & 0o7777).toString(8)).toBe('644');
    expect(lstatSync(dest).isFile()).toBe(true);
    expect((statSync(dest).mode & 0o7777).toString(8)).toBe('600');
    expect(readFileSync(dest, 'utf8')).toBe('secret\n');
    expect(readdirSync(shared)).toEqual(['secret.conf']);
  });

  it('a rootfs dest of / is refused by plan before any host is touched (exit 65)', async () => {
    const store = join(dir, 'store-root');
    const tarball = craftTar([{ path: './etc/ok.txt', data: Buffer.from('ok\n') }]);
    writeRelease(store, {
      name: 'slash',
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], install: [{ rootfs: { name: 'base', dest: '/' } }] } },
      extra: [{ path: 'rootfs/base.tar', content: tarball, kind: 'rootfs', services: ['web'] }],
      artifacts: { rootfs: { base: { path: 'rootfs/base.tar' } } },
    });
    const cwd = join(dir, 'cwd');
    mkdirSync(cwd);
    const r = await ferry(['plan', 'slash@1', '--allow-local', '-i', inventory(), '--store', store], { cwd });
    expect(r.code, r.stderr + r.stdout).toBe(65);
    expect(r.stderr).toMatch(/services\.web\.install\[0\]\.rootfs.*dest: an absolute path without \. or \.\. segments, not \/ itself/);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

/**
 * Linux clears the setuid and setgid bits of a file whose owner is changed, root or not: a file step
 * must set the mode after the owner, or the bits it keeps (a file without `mode`) or sets (mode
 * "4755") are lost on the way.
 */
describe('file step modes with setuid bits', () => {
  let dir: string;
  const host = () => join(dir, 'host');
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-setuid-'));
    writeFileSync(join(dir, 'inventory.yaml'), stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: host(), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('new content keeps the setuid mode of the file it replaces, and mode "4755" is set with the content in one change', async () => {
    const store = join(dir, 'store');
    writeRelease(store, {
      name: 'setuid',
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], files: { 'note.txt': 'x\n' }, configure: [{ file: { content: 'new\n', dest: '{{ root }}/bin/kept' } }, { file: { content: 'new\n', dest: '{{ root }}/bin/set', mode: '4755', owner: '0' } }] } },
    });
    mkdirSync(join(host(), 'bin'), { recursive: true });
    writeFileSync(join(host(), 'bin/kept'), 'old\n');
    chmodSync(join(host(), 'bin/kept'), 0o4755);
    const r = await ferry(['deploy', 'setuid@1', '--allow-local', '-i', join(dir, 'inventory.yaml'), '--store', store, '--push', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(join(host(), 'bin/kept'), 'utf8')).toBe('new\n');
    expect((statSync(join(host(), 'bin/kept')).mode & 0o7777).toString(8)).toBe('4755');
    expect((statSync(join(host(), 'bin/set')).mode & 0o7777).toString(8)).toBe('4755');
    // both files: one change each, the content (the mode went with it)
    expect(stepEvents(r).filter((e) => e.step === 'file').map((e) => e.detail)).toEqual(['content', 'content']);
  });
});
