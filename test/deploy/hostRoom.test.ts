import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { craftTar } from '../helpers/craft.js';
import { writeRelease } from './storeFixture.js';

/**
 * `ferry extract` measured a rootfs against the room beside --to before unpacking it, but the rootfs step
 * unpacked it on the host unmeasured: a signed tarball of a few KiB that unpacks to gigabytes of zeros or
 * thousands of files filled the host's disk (which its services write to) before tar failed. The host
 * (transport local, the same script as over ssh) keeps its dest on a tmpfs of 8 MiB and 64 inodes (mount
 * needs root: skipped otherwise).
 */
describe('the rootfs step on a host without room for the tarball', () => {
  let dir: string;
  let mounted = false;
  const host = () => join(dir, 'host');
  const small = () => join(host(), 'srv/small');
  const inventory = () => join(dir, 'inventory.yaml');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-host-room-'));
    mkdirSync(small(), { recursive: true });
    mounted = process.getuid?.() === 0 && (await run('mount', ['-t', 'tmpfs', '-o', 'size=8m,nr_inodes=64', 'tmpfs', small()])).code === 0;
    writeFileSync(inventory(), stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: host(), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
  });
  afterAll(async () => {
    if (mounted) await run('umount', [small()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['zeros', [{ path: './big', data: Buffer.alloc(32 << 20) }], /\(\d+ bytes, \d+ files free\)/],
    ['many', Array.from({ length: 200 }, (_, i) => ({ path: `./f${i}`, data: Buffer.alloc(0) })), /\(\d+ bytes, \d+ files free\)/],
    // 10 files 21 folders deep, and no member for any folder: tar makes the 210 folders on its way
    ['folders', Array.from({ length: 10 }, (_, i) => ({ path: `d${i}/${'a/'.repeat(20)}f`, data: Buffer.from('x') })), /\(\d+ bytes, \d+ files free\)/],
  ])('rootfs/%s is refused on the host before anything is unpacked (72, naming the room), nothing left there', async (name, members, free, ctx) => {
    if (!mounted) ctx.skip();
    const store = join(dir, `store-${name}`);
    writeRelease(store, {
      name,
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], install: [{ rootfs: { name: 'base', dest: `{{ root }}/srv/small/${name}` } }] } },
      extra: [{ path: 'rootfs/base.tar.gz', content: gzipSync(craftTar(members)), kind: 'rootfs', services: ['web'] }],
      artifacts: { rootfs: { base: { path: 'rootfs/base.tar.gz' } } },
    });
    // each case deploys a release of its own name whose service web replaces the one before on the host
    const r = await ferry(['deploy', `${name}@1`, '--allow-local', '-i', inventory(), '--store', store, '--push', '--take-over', '*']);
    expect(r.code, r.stderr + r.stdout).toBe(72);
    const said = `${r.stderr}\n${r.stdout}`;
    expect(said).toContain(`rootfs base: the tarball unpacks to more than the room on the file system holding ${join(small(), `${name}.d`)}`);
    expect(said).toMatch(free);
    expect(said).toContain('refused before unpacking anything');
    expect(said).not.toMatch(/No space left|Cannot (write|open)/);
    // the folder the tree would go in (its scratch too), and nothing in it
    expect(readdirSync(join(small(), `${name}.d`))).toEqual([]);
  });

  it('a tarball that fits is unpacked there (the control)', async (ctx) => {
    if (!mounted) ctx.skip();
    const store = join(dir, 'store-fits');
    writeRelease(store, {
      name: 'fits',
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], install: [{ rootfs: { name: 'base', dest: '{{ root }}/srv/small/fits' } }] } },
      extra: [{ path: 'rootfs/base.tar.gz', content: gzipSync(craftTar([{ path: './etc/motd', data: Buffer.alloc(1 << 20, 0x61) }])), kind: 'rootfs', services: ['web'] }],
      artifacts: { rootfs: { base: { path: 'rootfs/base.tar.gz' } } },
    });
    const r = await ferry(['deploy', 'fits@1', '--allow-local', '-i', inventory(), '--store', store, '--push', '--take-over', '*']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readdirSync(join(small(), 'fits.d')).length).toBe(1);
  });

  const blob = randomBytes(1 << 20);
  it.each([
    // one blob of 1 MiB at 20 paths: a pack of 1 MiB, 20 MiB checked out (random bytes: git writes zeros as holes)
    ['blob', (i: number) => (i < 20 ? blob : undefined)],
    // 100 files, more than the 64 inodes
    ['files', (i: number) => (i < 100 ? Buffer.from(`${i}\n`) : undefined)],
  ])('git: a commit whose checkout does not fit (%s) is refused on the host before it is checked out (72, naming the room)', async (name, content, ctx) => {
    if (!mounted) ctx.skip();
    const repo = join(dir, `repo-${name}`);
    mkdirSync(repo);
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@ferry.invalid', ...args], { cwd: repo, encoding: 'utf8' }).trim();
    git('init', '-q', '-b', 'ferry');
    for (let i = 0, data = content(0); data !== undefined; data = content(++i)) writeFileSync(join(repo, `f${i}`), data);
    git('add', '.');
    git('commit', '-qm', 'big');
    const commit = git('rev-parse', 'HEAD');
    const bundle = join(dir, `${name}.bundle`);
    git('bundle', 'create', bundle, 'ferry');
    const store = join(dir, `store-git-${name}`);
    writeRelease(store, {
      name: `git${name}`,
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], install: [{ git: { name: 'app', dest: `{{ root }}/srv/small/git-${name}` } }] } },
      extra: [{ path: 'git/app.bundle', content: readFileSync(bundle), kind: 'git', services: ['web'] }],
      artifacts: { git: { app: { path: 'git/app.bundle', commit, shallow: [] } } },
    });
    const r = await ferry(['deploy', `git${name}@1`, '--allow-local', '-i', inventory(), '--store', store, '--push', '--take-over', '*']);
    expect(r.code, r.stderr + r.stdout).toBe(72);
    const said = `${r.stderr}\n${r.stdout}`;
    expect(said).toContain(`git app: the commit unpacks to more than the room on the file system holding ${join(small(), `git-${name}.d`)}`);
    expect(said).toContain('refused before unpacking anything');
    expect(said).not.toMatch(/No space left|unable to (write|create)/i);
    expect(readdirSync(join(small(), `git-${name}.d`))).toEqual([]);
  });
});
