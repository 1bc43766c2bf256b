import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildAndImport, writeSpec } from './helpers.js';

/**
 * A signed rootfs tarball of a few KiB can unpack to gigabytes of zeros, or to more files than the file
 * system has inodes: `ferry extract` lists it first and refuses (71, one line) when it would not fit
 * where --to is, before a byte is unpacked, instead of filling the disk that other services write to.
 * --to is on a tmpfs of 8 MiB and 64 inodes (also too few for the 210 folders 10 deep files make); 32 MiB of zeros is a file tar writes whole (tar -x writes no holes unless the archive says the file is sparse) (mount needs root: skipped otherwise).
 */
describe('ferry extract of a rootfs larger than the room under --to', () => {
  let dir: string;
  let store: string;
  let mounted = false;
  const mnt = () => join(dir, 'small');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-extract-room-'));
    await mkdir(mnt());
    mounted = process.getuid?.() === 0 && (await run('mount', ['-t', 'tmpfs', '-o', 'size=8m,nr_inodes=64', 'tmpfs', mnt()])).code === 0;
    if (!mounted) return;
    // 32 MiB of zeros, and 200 empty files: each tarball is a few KiB
    const zeros = join(dir, 'zeros');
    await mkdir(zeros);
    await writeFile(join(zeros, 'big'), '');
    await truncate(join(zeros, 'big'), 32 << 20);
    const many = join(dir, 'many');
    await mkdir(many);
    for (let i = 0; i < 200; i++) await writeFile(join(many, `f${i}`), '');
    // 10 files 21 folders deep, and no member for any folder: tar makes the 210 folders on its way
    const folders = join(dir, 'folders');
    const deep = Array.from({ length: 10 }, (_, i) => `d${i}/${'a/'.repeat(20)}f`);
    for (const f of deep) {
      await mkdir(join(folders, f, '..'), { recursive: true });
      await writeFile(join(folders, f), 'x');
    }
    const sums: string[] = [];
    for (const [name, members] of [['zeros', ['.']], ['many', ['.']], ['folders', ['--no-recursion', ...deep]]] as const) {
      const r = await run('tar', ['-czf', join(dir, `${name}.tar.gz`), '-C', join(dir, name), ...members]);
      if (r.code !== 0) throw new Error(r.stderr);
      sums.push(createHash('sha256').update(await readFile(join(dir, `${name}.tar.gz`))).digest('hex'));
    }
    const key = await writeKey(dir, 'team');
    const spec = await writeSpec(
      dir,
      `rootfs:\n  zeros: { tarball: { src: zeros.tar.gz, sha256: ${sums[0]} } }\n  many: { tarball: { src: many.tar.gz, sha256: ${sums[1]} } }\n  folders: { tarball: { src: folders.tar.gz, sha256: ${sums[2]} } }\n`,
      'room',
    );
    store = join(dir, 'store');
    await buildAndImport({ spec, key, out: join(dir, 'out'), cache: join(dir, 'cache'), store });
  });
  afterAll(async () => {
    if (mounted) await run('umount', [mnt()]);
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['zeros', /^ferry: rootfs \S+ unpacks to more than the [\d.]+ [KM]iB free on the file system holding \S+: refused before unpacking anything; free space there or choose another --to$/],
    ['many', /^ferry: rootfs \S+ unpacks to more than the \d+ files the file system holding \S+ has room for: refused before unpacking anything; free space there or choose another --to$/],
    // the folders count too, though no member of the tarball lists them
    ['folders', /^ferry: rootfs \S+ unpacks to more than the \d+ files the file system holding \S+ has room for: refused before unpacking anything; free space there or choose another --to$/],
  ])('refuses rootfs/%s with one line (71) and leaves nothing under the folder', async (name, message, ctx) => {
    if (!mounted) ctx.skip();
    const r = await ferry(['extract', 'room/1.0.0', `rootfs/${name}`, '--store', store, '--to', join(mnt(), name)]);
    expect(r.code, r.stderr).toBe(71);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    expect(await readdir(mnt())).toEqual([]);
  });
});
