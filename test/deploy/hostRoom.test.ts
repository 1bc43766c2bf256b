import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
    const r = await ferry(['deploy', `${name}@1`, '--allow-local', '-i', inventory(), '--store', store, '--push']);
    expect(r.code, r.stderr + r.stdout).toBe(72);
    const said = `${r.stderr}\n${r.stdout}`;
    expect(said).toContain(`rootfs base: the tarball unpacks to more than the room on the file system holding ${join(small(), `${name}.d`)}`);
    expect(said).toMatch(free);
    expect(said).toContain('refused before unpacking anything');
    expect(said).not.toMatch(/No space left|Cannot (write|open)/);
    // the folders the trees would go in, and nothing in them
    expect(readdirSync(small())).toContain(`${name}.d`);
    for (const d of readdirSync(small())) expect(readdirSync(join(small(), d)), d).toEqual([]);
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
    const r = await ferry(['deploy', 'fits@1', '--allow-local', '-i', inventory(), '--store', store, '--push']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readdirSync(join(small(), 'fits.d')).length).toBe(1);
  });
});
