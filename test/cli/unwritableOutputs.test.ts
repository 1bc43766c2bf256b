import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SPEC_DIR, buildDemoBundle } from '../helpers/demoBundle.js';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { makeDirectorySync } from '../../src/util/makeDirectory.js';

/**
 * Every path a user gives ferry to write into, where it cannot be written: /proc/NAME (procfs answers
 * mkdir with ENOENT for the name itself: Node 20's recursive mkdir retried that for good, so build --out,
 * split --out and key generate --out never ended), /sys/NAME (read-only sysfs: EPERM/EACCES, which were
 * "internal error … This is a bug in ferry", 74), and a path under a regular file (ENOTDIR, 74 too).
 * Each run must end by itself with one `ferry:` line and the code of README's table (64 for an output
 * option, 71 for a store), and leave nothing behind: no folder at the path, nothing new beside the
 * regular file, no work folder in $TMPDIR. No timer here: with the old code the hanging runs never end,
 * and vitest's own --testTimeout is what fails them.
 */
describe('an output path that cannot be written: one line, its exit code, nothing left', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let bundle: string;
  let store: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  const pid = process.pid;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-unwritable-out-'));
    key = await writeKey(dir, 'team');
    bundle = await buildDemoBundle(dir, key.secret);
    // a rootfs artifact, for extract --to
    await mkdir(join(dir, 'rt/tree'), { recursive: true });
    await writeFile(join(dir, 'rt/tree/a'), 'a\n');
    const tar = await run('tar', ['-czf', join(dir, 'rt/t.tar.gz'), '-C', join(dir, 'rt/tree'), '.']);
    expect(tar.code, tar.stderr).toBe(0);
    const sum = createHash('sha256').update(await readFile(join(dir, 'rt/t.tar.gz'))).digest('hex');
    await writeFile(join(dir, 'rt/spec.yaml'), `name: rt\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nrootfs:\n  base: { tarball: { src: t.tar.gz, sha256: ${sum} } }\n`);
    const built = await ferry(['build', join(dir, 'rt/spec.yaml'), '--key', key.secret, '--out', join(dir, 'rt'), '--cache', join(dir, 'cache')]);
    expect(built.code, built.stderr).toBe(0);
    store = join(dir, 'store');
    for (const b of [bundle, join(dir, 'rt/rt-1.0.0.ferry')]) {
      const imported = await ferry(['import', b, '--keyring', key.public, '--store', store]);
      expect(imported.code, imported.stderr).toBe(0);
    }
    await cp(DEMO_SPEC_DIR, join(dir, 'lockdemo'), { recursive: true });
    await writeFile(join(dir, 'regular'), 'a regular file\n');
    await mkdir(join(dir, 'tmp'));
    env = { TMPDIR: join(dir, 'tmp') };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** each command, given the path T to write into (under which it makes its own name) */
  const outputs: Array<[string, number, (t: string) => string[]]> = [
    ['build --out', 64, (t) => ['build', join(dir, 'demo/demo.yaml'), '--key', key.secret, '--out', `${t}/out`, '--cache', join(dir, 'cache')]],
    ['build --cache', 64, (t) => ['build', join(dir, 'demo/demo.yaml'), '--key', key.secret, '--out', join(dir, 'built'), '--cache', `${t}/cache`]],
    ['lock --cache', 64, (t) => ['lock', join(dir, 'lockdemo/demo.yaml'), '--cache', `${t}/cache`]],
    ['split --out', 64, (t) => ['split', bundle, '--size', '4K', '--out', `${t}/volumes`]],
    ['key generate --out', 64, (t) => ['key', 'generate', '--name', 'Team', '--out', `${t}/keys/team`]],
    ['sign --out', 64, (t) => ['sign', bundle, '--key', key.secret, '--out', `${t}/signed.ferry`]],
    ['extract --to', 64, (t) => ['extract', 'rt/1.0.0', 'rootfs/base', '--store', store, '--to', `${t}/rootfs`]],
    ['import --store', 71, (t) => ['import', bundle, '--keyring', key.public, '--store', `${t}/store`]],
    ['verify --store', 71, (t) => ['verify', bundle, '--keyring', key.public, '--store', `${t}/store`]],
    ['list --store', 71, (t) => ['list', '--store', `${t}/store`]],
    ['mirror list --store', 71, (t) => ['mirror', 'list', '--store', `${t}/store`]],
    ['mirror switch --store', 71, (t) => ['mirror', 'switch', 'debian', '1.0.0', '--store', `${t}/store`]],
    ['gc --store', 71, (t) => ['gc', '--keep', '1', '--store', `${t}/store`]],
    ['audit verify --store', 71, (t) => ['audit', 'verify', '--store', `${t}/store`]],
    ['serve --sync-links --store', 71, (t) => ['serve', '--sync-links', '--store', `${t}/store`]],
    ['serve --nginx-config --store', 71, (t) => ['serve', '--nginx-config', '--store', `${t}/store`]],
    ['serve --store', 71, (t) => ['serve', '--listen', '127.0.0.1:0', '--workers', '1', '--store', `${t}/store`]],
  ];
  const places: Array<[string, () => string]> = [
    ['/proc/NAME (ENOENT for the name itself)', () => `/proc/ferry-unwritable-${pid}`],
    ['/sys/NAME (read-only)', () => `/sys/ferry-unwritable-${pid}`],
    ['a path under a regular file (ENOTDIR)', () => join(dir, 'regular')],
  ];

  describe.each(places)('%s', (_, place) => {
    it.each(outputs)('%s: exit %i, one ferry: line naming the path', async (_command, code, args) => {
      const t = place();
      const before = (await readdir(dir)).sort();
      const r = await ferry(args(t), { env });
      expect(r.code, r.stderr).toBe(code);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toContain(t);
      expect(lines[0]).not.toMatch(/internal error|bug in ferry/);
      expect(r.stdout).toBe('');
      // nothing left: no folder made there, nothing new beside the file, no work folder in $TMPDIR
      if (t.startsWith('/proc/') || t.startsWith('/sys/')) expect(existsSync(t)).toBe(false);
      expect((await readdir(dir)).sort()).toEqual(before);
      expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    });
  });

  // (import and verify make the store; serve's own refusal says "store … cannot be served", test/serve/listen.test.ts)
  it.each(outputs.filter(([command]) => command.endsWith('--store') && !['import', 'verify', 'serve --store'].some((c) => command.startsWith(c))))(
    '%s naming a folder that does not exist (a typo): exit %i, one line, and no store is made there',
    async (_command, code, args) => {
      const t = join(dir, 'no-such-folder');
      const r = await ferry(args(t), { env });
      expect(r.code, r.stderr).toBe(code);
      // as deploy, diff, sbom, extract… say it when they look a release up there
      expect(r.stderr).toBe(`ferry: store ${t}/store does not exist: run ferry import first\n`);
      expect(r.stdout).toBe('');
      expect(existsSync(t)).toBe(false);
    },
  );

  it('makeDirectorySync (writes in one turn of the event loop) ends as makeDirectory does', async () => {
    expect(() => makeDirectorySync(`/proc/ferry-unwritable-sync-${pid}/a`)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => makeDirectorySync(`/sys/ferry-unwritable-sync-${pid}/a`)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(EPERM|EACCES|EROFS)$/) }));
    const made = join(dir, 'sync-made/a/b');
    makeDirectorySync(made);
    makeDirectorySync(made);
    expect(await readdir(join(dir, 'sync-made/a'))).toEqual(['b']);
    expect(() => makeDirectorySync(join(dir, 'regular'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => makeDirectorySync(join(dir, 'regular/x'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    await rm(join(dir, 'sync-made'), { recursive: true });
  });

  /** write(2) says ENOSPC without a path: that was "internal error" (74); now one line naming the output, exit 1 */
  it.each(outputs.filter(([command]) => ['build --out', 'split --out', 'sign --out', 'key generate --out'].includes(command)))(
    '%s on a full file system: exit 1, one ferry: line naming it, no partial file left',
    async (_command, _code, args) => {
      const full = join(dir, 'full');
      await mkdir(full);
      // a tmpfs of 64 KiB, filled: mount needs root (skipped otherwise)
      if (process.getuid?.() !== 0 || (await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full])).code !== 0) return;
      try {
        await writeFile(join(full, 'fill'), Buffer.alloc(1 << 20)).catch(() => {});
        const filled = (await readdir(full)).sort();
        const r = await ferry(args(full), { env });
        expect(r.code, r.stderr).toBe(1);
        const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(/no space left \(ENOSPC\)/);
        expect(lines[0]).toContain(full);
        // only the (empty) folder the command made is left beside the filler
        const left = (await readdir(full)).filter((n) => !filled.includes(n));
        for (const name of left) expect(await readdir(join(full, name)), name).toEqual([]);
        expect(await readdir(join(dir, 'tmp'))).toEqual([]);
      } finally {
        await run('umount', [full]);
        await rm(full, { recursive: true, force: true });
      }
    },
  );

  /** where ferry writes beside its input when no option names a place: the bundle's or the spec's folder */
  it.each([
    ['sign (in place)', (ro: string) => ['sign', join(ro, 'demo-1.0.0.ferry'), '--key', key.secret], /^ferry: \S+demo-1\.0\.0\.ferry: cannot write there \(EROFS at \S+\.ferry\.sign-lock\.[0-9a-f]+\); nothing was written: copy the bundle to a folder this user can write, or give --out$/],
    ['split (next to the bundle)', (ro: string) => ['split', join(ro, 'demo-1.0.0.ferry'), '--size', '4K'], /^ferry: \S+ \(the bundle's folder\): cannot write there \(EROFS at \S+\.001\.\S+\.partial\); nothing was written: give --out a folder this user can write$/],
    ['lock (next to the spec)', (ro: string) => ['lock', join(ro, 'demo/demo.yaml'), '--cache', join(dir, 'cache')], /^ferry: \S+demo\.lock\.json: cannot write there \(EROFS at \S+\.tmp\); nothing was written: make the spec's folder writable/],
    ['serve --sync-links (a read-only store)', (ro: string) => ['serve', '--sync-links', '--store', join(ro, 'store')], /^ferry: --store \S+store: cannot write there \(EROFS at \S+\.tmp\); nothing was written: make the store writable for this user$/],
  ] as const)('%s in a read-only folder: exit 64 (71 for the store), one line, nothing written', async (what, args, line) => {
    const ro = join(dir, 'read-only');
    await mkdir(ro);
    await cp(bundle, join(ro, 'demo-1.0.0.ferry'));
    await cp(DEMO_SPEC_DIR, join(ro, 'demo'), { recursive: true });
    await rm(join(ro, 'demo/demo.lock.json'));
    await cp(store, join(ro, 'store'), { recursive: true, verbatimSymlinks: true });
    const before = (await readdir(ro)).sort();
    // a read-only bind mount: mount needs root (skipped otherwise)
    const mounted = process.getuid?.() === 0 && (await run('mount', ['--bind', '-o', 'ro', ro, ro])).code === 0;
    try {
      if (!mounted) return;
      const r = await ferry(args(ro), { env });
      expect(r.code, r.stderr).toBe(what.includes('store') ? 71 : 64);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(line);
      expect((await readdir(ro)).sort()).toEqual(before);
      expect(await readdir(join(ro, 'demo'))).not.toContain('demo.lock.json');
    } finally {
      if (mounted) await run('umount', [ro]);
      await rm(ro, { recursive: true, force: true });
    }
  });
});
