import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FERRY_BIN, ferry, run } from '../helpers/cli.js';
import { craftTar } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { buildAndImport, writeSpec } from './helpers.js';
import { writeRelease } from '../deploy/storeFixture.js';

/**
 * A rootfs tarball is carried as it came (a vendor's file, signed by the team that built the bundle), so
 * its member names are not ferry's: `ferry extract` unpacks it with GNU tar, which refuses members that
 * climb out with `..`, strips a leading `/`, and will not write through a symbolic link the archive made.
 * Whatever the tarball holds, nothing lands outside --to, no half-unpacked folder is left, and the
 * refusal is one line naming tar's first reason (exit 73).
 */
describe('a hostile rootfs tarball', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-rootfs-hostile-'));
    key = await writeKey(dir, 'team');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('extract refuses it with tar\'s reason, writes nothing outside --to and leaves no partial folder', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(dir, 'victim.txt'), 'victim\n');
    const tarball = craftTar([
      { path: 'etc/ok.txt', data: Buffer.from('ok\n') },
      { path: '../../dotdot-escape.txt', data: Buffer.from('escaped\n') },
      { path: 'lnk', type: 'SymbolicLink', linkpath: outside, data: Buffer.alloc(0) },
      { path: 'lnk/through-link.txt', data: Buffer.from('escaped\n') },
      { path: 'up', type: 'SymbolicLink', linkpath: '../../../outside', data: Buffer.alloc(0) },
      { path: 'up/through-relative-link.txt', data: Buffer.from('escaped\n') },
      { path: 'hard', type: 'Link', linkpath: join(dir, 'victim.txt'), data: Buffer.alloc(0) },
    ]);
    await writeFile(join(dir, 'evil.tar'), tarball);
    const spec = await writeSpec(dir, `rootfs:\n  evil: { tarball: { src: evil.tar, sha256: ${createHash('sha256').update(tarball).digest('hex')} } }\n`, 'hostile');
    const store = join(dir, 'store');
    await buildAndImport({ spec, key, out: join(dir, 'out'), cache: join(dir, 'cache'), store });
    const parent = join(dir, 'deep', 'a', 'b');
    await mkdir(parent, { recursive: true });
    const r = await ferry(['extract', 'hostile/1.0.0', 'rootfs/evil', '--store', store, '--to', join(parent, 'to')]);
    expect(r.code, r.stderr).toBe(73);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ferry: tar failed: .*\(exit 2\): tar: \.\.\/\.\.\/dotdot-escape\.txt: Member name contains '\.\.'$/);
    expect(await readdir(parent)).toEqual([]);
    for (const escaped of [join(dir, 'dotdot-escape.txt'), join(dir, 'deep', 'dotdot-escape.txt'), join(outside, 'through-link.txt'), join(outside, 'through-relative-link.txt')]) expect(existsSync(escaped), escaped).toBe(false);
    expect(await readdir(outside)).toEqual([]);
    expect(await readFile(join(dir, 'victim.txt'), 'utf8')).toBe('victim\n');
  });

  it("extract keeps a signed rootfs's device nodes and setuid files out of other users' reach: --to is 0700, its content as packed", async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip();
    // a folder every user may enter, as /srv or /opt are (the test's own temporary folder is private)
    const open = await mkdtemp('/tmp/ferry-rootfs-doors-');
    try {
      await chmod(open, 0o755);
      const tree = join(dir, 'doors');
      await mkdir(join(tree, 'dev'), { recursive: true });
      await chmod(tree, 0o755);
      // c 1 3 (null) stands for what a hostile rootfs would carry: c 1 1 (/dev/mem) or b 8 0 (a disk), 0666
      expect((await run('mknod', ['-m', '666', join(tree, 'dev', 'door'), 'c', '1', '3'])).code).toBe(0);
      await writeFile(join(tree, 'rootsh'), '#!/bin/sh\nid -u\n');
      await chmod(join(tree, 'rootsh'), 0o4755);
      expect((await run('tar', ['-cf', join(dir, 'doors.tar'), '-C', tree, '.'])).code).toBe(0);
      const tarball = await readFile(join(dir, 'doors.tar'));
      const spec = await writeSpec(dir, `rootfs:\n  doors: { tarball: { src: doors.tar, sha256: ${createHash('sha256').update(tarball).digest('hex')} } }\n`, 'doors');
      const store = join(dir, 'store-doors');
      await buildAndImport({ spec, key, out: join(dir, 'out-doors'), cache: join(dir, 'cache-doors'), store });
      const to = join(open, 'to');
      const r = await ferry(['extract', 'doors/1.0.0', 'rootfs/doors', '--store', store, '--to', to]);
      expect(r.code, r.stderr).toBe(0);
      expect((await run('stat', ['-c', '%a %u', to])).stdout.trim()).toBe('700 0');
      expect((await run('stat', ['-c', '%a %u %F %t,%T', join(to, 'dev', 'door')])).stdout.trim()).toBe('666 0 character special file 1,3');
      expect((await run('stat', ['-c', '%a %u', join(to, 'rootsh')])).stdout.trim()).toBe('4755 0');
      for (const what of [`: < ${join(to, 'dev', 'door')}`, join(to, 'rootsh')]) {
        const other = await run('runuser', ['-u', 'nobody', '--', 'sh', '-c', what]);
        expect(other.code, `${what}: ${other.stdout}`).not.toBe(0);
        expect(other.stderr).toContain('Permission denied');
      }
    } finally {
      await rm(open, { recursive: true, force: true });
    }
  });
});

/** A store holding release NAME/1 whose one artifact is rootfs/base, the tarball as carried (uncompressed). */
function storeRootfs(store: string, name: string, tarball: Buffer): void {
  const sha256 = createHash('sha256').update(tarball).digest('hex');
  writeRelease(store, {
    name,
    version: '1',
    services: { web: { version: '1.0.0', groups: ['web'] } },
    extra: [{ path: 'rootfs/base.tar', content: tarball, kind: 'rootfs', services: ['web'] }],
    artifacts: { rootfs: { base: { path: 'rootfs/base.tar', source: 'tarball', compression: 'none', sha256, size: tarball.length, services: ['web'] } } },
  });
}

/**
 * The marker `ferry extract` writes into a rootfs (.ferry-extracted.json) is ferry's: a tarball member
 * of that name (a folder, a link out of the tree) is replaced by the marker, never written through, and
 * a second extract finds the tree in place.
 */
describe('a rootfs tarball that carries the extract marker itself', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-rootfs-marker-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['a folder', [{ path: './.ferry-extracted.json/', type: 'Directory' as const }, { path: './.ferry-extracted.json/x', data: Buffer.from('x\n') }]],
    ['a link out of the tree', [{ path: './.ferry-extracted.json', type: 'SymbolicLink' as const, linkpath: 'VICTIM' }]],
  ])('as %s: extracted, the marker replaces it, the second run changes nothing', async (label, entries) => {
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'victim\n');
    const tarball = craftTar([{ path: './etc/ok.txt', data: Buffer.from('ok\n') }, ...entries.map((e) => ({ ...e, linkpath: 'linkpath' in e ? victim : undefined }))]);
    const store = join(dir, `store-${label.replace(/\W+/g, '-')}`);
    const sha256 = createHash('sha256').update(tarball).digest('hex');
    storeRootfs(store, 'marker', tarball);
    const to = join(dir, `to-${label.replace(/\W+/g, '-')}`);
    for (const changed of [true, false]) {
      const r = await ferry(['extract', 'marker/1', 'rootfs/base', '--store', store, '--to', to, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).changed).toBe(changed);
    }
    expect(JSON.parse(await readFile(join(to, '.ferry-extracted.json'), 'utf8')).id).toBe(sha256);
    expect(await readFile(join(to, 'etc/ok.txt'), 'utf8')).toBe('ok\n');
    expect(await readFile(victim, 'utf8')).toBe('victim\n');
  });
});

/**
 * `ferry extract --to` a place that is not a folder ferry can swap: a symbolic link (dangling, or to a
 * folder or a file) or a path whose parent folder is missing. One line, exit 64, the link left as it
 * was, and nothing made beside it.
 */
describe('extract --to a place it cannot swap', () => {
  let dir: string;
  let store: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-rootfs-to-'));
    store = join(dir, 'store');
    const tarball = craftTar([{ path: './etc/ok.txt', data: Buffer.from('ok\n') }]);
    storeRootfs(store, 'to', tarball);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['a dangling link', 'nowhere', null],
    ['a link to an empty folder', 'folder', 'dir'],
    ['a link to a file', 'file', 'file'],
  ])('%s is refused, with and without --force', async (label, target, make) => {
    const place = join(dir, label.replace(/\W+/g, '-'));
    await mkdir(place);
    const real = join(place, target);
    if (make === 'dir') await mkdir(real);
    if (make === 'file') await writeFile(real, 'mine\n');
    const to = join(place, 'to');
    await symlink(real, to);
    for (const force of [[], ['--force']]) {
      const r = await ferry(['extract', 'to/1', 'rootfs/base', '--store', store, '--to', to, ...force]);
      expect(r.code, r.stderr).toBe(64);
      expect(r.stderr.trim().split('\n')).toEqual([`ferry: ${to} is a symbolic link: ferry extract does not follow or replace one; give the folder itself as --to`]);
      expect(await readlink(to)).toBe(real);
      expect((await readdir(place)).sort()).toEqual(make ? [target, 'to'].sort() : ['to']);
    }
    if (make === 'dir') expect(await readdir(real)).toEqual([]);
  });

  it('a path whose parent folder is missing is refused, and nothing is made', async () => {
    const to = join(dir, 'no', 'such', 'to');
    const r = await ferry(['extract', 'to/1', 'rootfs/base', '--store', store, '--to', to]);
    expect(r.code, r.stderr).toBe(64);
    expect(r.stderr.trim().split('\n')).toEqual([`ferry: ${join(dir, 'no', 'such')}, the folder that would hold ${to}, does not exist; make it first or choose another --to`]);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});

/**
 * Without root, tar unpacks a rootfs with its modes but as the user's own files: a folder of mode 0555
 * that holds files cannot then be emptied by `rm -r`. The second extract of such a rootfs swapped it in
 * and then failed removing the first (an internal error, exit 74), leaving `.to.ferry-old-*` beside --to,
 * and every later extract failed on sweeping that. Now the old tree and the scratch go, and runs succeed.
 */
describe('a rootfs with a read-only folder, extracted without root', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-rootfs-readonly-'));
    await chmod(dir, 0o755);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is extracted again with --force, its old tree and scratch removed', async () => {
    const tarball = craftTar([
      { path: 'ro/', type: 'Directory' },
      { path: 'ro/f', data: Buffer.from('x\n') },
    ]);
    // the folder read-only, as a vendor's tarball may carry it (craftTar writes 0644 for every entry)
    const header = tarball.subarray(0, 512);
    header.write('0000555\0', 100, 'latin1');
    header.write('        ', 148, 'latin1');
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const store = join(dir, 'store');
    storeRootfs(store, 'ro', tarball);
    await run('chmod', ['-R', 'a+rX', store]);
    const parent = join(dir, 'place');
    await mkdir(parent);
    await chown(parent, 65534, 65534);
    const to = join(parent, 'to');
    for (let i = 0; i < 2; i++) {
      const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, FERRY_BIN, 'extract', 'ro/1', 'rootfs/base', '--store', store, '--to', to, '--force']);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await readdir(parent)).toEqual(['to']);
    expect((await stat(join(to, 'ro'))).mode & 0o777).toBe(0o555);
    expect(await readFile(join(to, 'ro/f'), 'utf8')).toBe('x\n');
  });
});
