import { beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { snapshotTree } from '../helpers/tree.js';
import { buildAndImport, listTree, makeRootfsTree, writeSpec } from './helpers.js';

describe('rootfs from a local folder', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  let tree: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-rootfs-dir-'));
    key = await writeKey(dir, 'team');
    tree = join(dir, 'tree');
    await makeRootfsTree(tree);
  });

  it('round-trips through build, sign, import and extract with identical modes, owners, links and devices', async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  base: { directory: { path: tree } }\nservices:\n  web: { version: "1", groups: [web], artifacts: { rootfs: [base] } }\n');
    const store = join(dir, 'store');
    await buildAndImport({ spec, key, out: join(dir, 'out'), cache: join(dir, 'cache'), store });
    const to = join(dir, 'extracted');
    const r = await ferry(['extract', 'rootfs-test/1.0.0', 'rootfs/base', '--store', store, '--to', to, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'rootfs', name: 'base', changed: true });
    const expected = await listTree(tree);
    expect(expected).toContain('usr/bin/su file 4755 0:0 ' + expected.find((l) => l.startsWith('usr/bin/su '))!.split(' ')[4]);
    expect(await listTree(to)).toEqual(expected);
    // the folder itself is the extracting user's and 0700, whatever the archive's "./" entry says: what is
    // inside (setuid programs, devices) is reachable by that user only (hostileTarball.test.ts)
    const top = await run('stat', ['-c', '%a %u:%g', to]);
    expect(top.stdout.trim()).toBe(`700 ${process.getuid!()}:${process.getgid!()}`);
  });

  it('writes the same bundle bytes when built twice into clean folders', async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  base: { directory: { path: tree } }\n');
    const a = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'twice-a'), '--cache', join(dir, 'cache-a')]);
    const b = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'twice-b'), '--cache', join(dir, 'cache-b')]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const bytesA = await readFile(join(dir, 'twice-a/rootfs-test-1.0.0.ferry'));
    expect(bytesA.equals(await readFile(join(dir, 'twice-b/rootfs-test-1.0.0.ferry')))).toBe(true);
  });

  it("writes the same xz and zstd bytes whatever the compressors' variables in the build's environment say (XZ_OPT, XZ_DEFAULTS, ZSTD_CLEVEL)", async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  x: { directory: { path: tree, compress: xz } }\n  z: { directory: { path: tree, compress: zstd } }\n', 'compressor-env');
    const a = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'env-a'), '--cache', join(dir, 'cache-env-a')]);
    expect(a.code, a.stderr).toBe(0);
    const env = { XZ_OPT: '-e', XZ_DEFAULTS: '--check=sha256', ZSTD_CLEVEL: '1', ZSTD_NBTHREADS: '1' };
    const b = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'env-b'), '--cache', join(dir, 'cache-env-b')], { env });
    expect(b.code, b.stderr).toBe(0);
    expect((await readFile(join(dir, 'env-a/compressor-env-1.0.0.ferry'))).equals(await readFile(join(dir, 'env-b/compressor-env-1.0.0.ferry')))).toBe(true);
  });

  it('packs a tarball GNU tar lists with sorted ./ paths, the epoch as mtime and numeric owners only', async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  base: { directory: { path: tree } }\n');
    const out = join(dir, 'listing');
    expect((await ferry(['build', spec, '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')])).code).toBe(0);
    await run('tar', ['-xf', join(out, 'rootfs-test-1.0.0.ferry'), '-C', out, 'rootfs/base.tar.gz']);
    const list = await run('tar', ['--full-time', '-tvzf', join(out, 'rootfs/base.tar.gz')], { env: { TZ: 'UTC' } });
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^drwx.* 0\/0 .* 2026-11-25 00:00:00 \.\/$/);
    for (const l of lines) expect(l).toContain(' 2026-11-25 00:00:00 ./');
    expect(list.stdout).toMatch(/-rw-r----- 0\/42 .* \.\/etc\/shadow/);
    expect(list.stdout).toMatch(/h.* \.\/usr\/bin\/su-hardlink link to \.\/usr\/bin\/su/);
    expect(list.stdout).toMatch(/c.* 1,3 .* \.\/dev\/null/);
    const names = lines.map((l) => l.slice(l.indexOf(' ./') + 1).split(' -> ')[0]!.split(' link to ')[0]!);
    // depth-first, each folder's entries in byte order
    expect(names.indexOf('./usr/bin/absolute-link')).toBeLessThan(names.indexOf('./usr/bin/su'));
    expect(names.indexOf('./etc/')).toBeLessThan(names.indexOf('./home/'));
  });

  it('compresses with zstd and xz when the spec asks, and extracts them the same', async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  z: { directory: { path: tree, compress: zstd } }\n  x: { directory: { path: tree, compress: xz } }\n', 'compressions');
    const store = join(dir, 'store-c');
    await buildAndImport({ spec, key, out: join(dir, 'out-c'), cache: join(dir, 'cache'), store });
    const entries = (await readdir(join(store, 'bundles', (await readdir(join(store, 'bundles')))[0]!, 'rootfs'))).sort();
    expect(entries).toEqual(['x.tar.xz', 'z.tar.zst']);
    const expected = await listTree(tree);
    for (const name of ['z', 'x']) {
      const r = await ferry(['extract', 'compressions/1.0.0', name, '--store', store, '--to', join(dir, `c-${name}`)]);
      expect(r.code, r.stderr).toBe(0);
      expect(await listTree(join(dir, `c-${name}`))).toEqual(expected);
    }
  });

  it('extracts idempotently: a second run changes nothing and says so', async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  base: { directory: { path: tree } }\n', 'idem');
    const store = join(dir, 'store-i');
    await buildAndImport({ spec, key, out: join(dir, 'out-i'), cache: join(dir, 'cache'), store });
    const to = join(dir, 'idem');
    expect((await ferry(['extract', 'idem/1.0.0', 'base', '--store', store, '--to', to])).code).toBe(0);
    // a file the operator added stays: the second run does not unpack again
    await writeFile(join(to, 'added-later'), 'mine\n');
    const again = await ferry(['extract', 'idem/1.0.0', 'base', '--store', store, '--to', to, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).changed).toBe(false);
    expect(again.stderr).toContain('already holds');
    expect(await readFile(join(to, 'added-later'), 'utf8')).toBe('mine\n');
    const marker = JSON.parse(await readFile(join(to, '.ferry-extracted.json'), 'utf8'));
    expect(marker).toMatchObject({ kind: 'rootfs', name: 'base', release: 'idem/1.0.0' });
    expect(marker.id).toMatch(/^[0-9a-f]{64}$/);
    // --force unpacks again: the tree is exactly the rootfs once more
    const forced = await ferry(['extract', 'idem/1.0.0', 'base', '--store', store, '--to', to, '--force', '--json']);
    expect(JSON.parse(forced.stdout).changed).toBe(true);
    expect(await listTree(to)).toEqual(await listTree(tree));
  });

  it('refuses to unpack over a folder it did not make, and leaves it as it was', async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  base: { directory: { path: tree } }\n', 'foreign');
    const store = join(dir, 'store-f');
    await buildAndImport({ spec, key, out: join(dir, 'out-f'), cache: join(dir, 'cache'), store });
    const to = join(dir, 'foreign');
    await mkdir(to);
    await writeFile(join(to, 'precious'), 'do not lose\n');
    const before = await snapshotTree(to);
    const r = await ferry(['extract', 'foreign/1.0.0', 'base', '--store', store, '--to', to]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(`${to} is not empty and was not made by ferry extract`);
    expect(await snapshotTree(to)).toEqual(before);
    // no half-unpacked sibling left behind either
    expect((await readdir(dir)).filter((n) => n.includes('ferry-new'))).toEqual([]);
  });

  it('names the artifacts a release has when asked for one it lacks', async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  base: { directory: { path: tree } }\n', 'missing');
    const store = join(dir, 'store-m');
    await buildAndImport({ spec, key, out: join(dir, 'out-m'), cache: join(dir, 'cache'), store });
    const r = await ferry(['extract', 'missing/1.0.0', 'rootfs/nope', '--store', store, '--to', join(dir, 'nope')]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('has no rootfs or git artifact "rootfs/nope"; it has: rootfs/base');
  });

  it('refuses a folder that does not exist, naming the field and the path, and writes no bundle', async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  base: { directory: { path: no-such-tree } }\n', 'nofolder');
    const r = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-n'), '--cache', join(dir, 'cache')]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(`rootfs.base.directory.path: ${join(dir, 'no-such-tree')} is not a folder`);
    expect(await readdir(join(dir, 'out-n')).catch(() => [])).toEqual([]);
  });

  it('refuses a service that names a rootfs the spec does not define', async () => {
    const spec = await writeSpec(dir, 'rootfs:\n  base: { directory: { path: tree } }\nservices:\n  web: { version: "1", groups: [web], artifacts: { rootfs: [bsae] } }\n', 'typo');
    const r = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-t'), '--cache', join(dir, 'cache')]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('services.web.artifacts.rootfs names "bsae", which the spec\'s rootfs section does not define (defined: base)');
  });
});
