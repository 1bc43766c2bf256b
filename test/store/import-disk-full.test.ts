import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { findLiveScratch } from '../../src/store/findLiveScratch.js';

/**
 * A bundle larger than the space left under the store (volumes joined on a small disk, a bundle that
 * is simply too big): a store problem, refused with one line (71), nothing left in the store but the
 * audit line. The store is a tmpfs of 64 KiB, which needs root (mount): skipped otherwise.
 */
describe('import into a full file system', () => {
  let dir: string;
  let mnt: string;
  let full: string;
  let mounted = false;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-diskfull-'));
    mnt = join(dir, 'small');
    full = join(dir, 'full');
    await mkdir(mnt);
    await mkdir(full);
    if (process.getuid?.() === 0) {
      mounted = (await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt])).code === 0;
      mounted &&= (await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full])).code === 0;
    }
  });
  afterAll(async () => {
    if (mounted) await run('umount', [mnt]);
    if (mounted) await run('umount', [full]);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses with one line (71) and leaves no release, no scratch and no blob', async (ctx) => {
    if (!mounted) ctx.skip();
    const key = await writeKey(dir, 'team');
    const files = [{ path: 'files/s/big.bin', data: Buffer.alloc(256 * 1024, 7) }];
    const bundle = join(dir, 'big-1.0.0.ferry');
    await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'big' }), await openpgp.readPrivateKey({ armoredKey: key.secretArmored }), files));
    const store = join(mnt, 'store');
    const r = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
    expect(r.code, r.stderr).toBe(71);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([expect.stringContaining('is full (ENOSPC); nothing was imported')]);
    for (const sub of ['bundles', 'refs', '.tmp', 'blobs/sha256']) expect(await readdir(join(store, sub))).toEqual([]);
    const audit = await ferry(['audit', 'verify', '--store', store, '--json']);
    expect(JSON.parse(audit.stdout)).toMatchObject({ ok: true, records: 1 });
  });

  it('on a file system full to the last byte: an import is refused with one line (71), and gc runs and frees the space for the next one', async (ctx) => {
    if (!mounted) ctx.skip();
    const key = await writeKey(dir, 'full');
    const secret = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
    const bundle = async (version: string, size: number) => {
      const files = [{ path: 'files/s/data.bin', data: randomBytes(size) }];
      const file = join(dir, `app-${version}.ferry`);
      await writeFile(file, await craftBundle(manifestFor(files, { name: 'app', version, epoch: `2026-11-2${version[0]}T00:00:00.000Z` }), secret, files));
      return file;
    };
    const store = join(full, 'store');
    for (const [version, size] of [['1.0.0', 256 * 1024], ['2.0.0', 16 * 1024]] as const) {
      const r = await ferry(['import', await bundle(version, size), '--keyring', key.public, '--store', store]);
      expect(r.code, r.stderr).toBe(0);
    }
    const third = await bundle('3.0.0', 64 * 1024);
    // fill the file system: every write of ferry's now fails (ENOSPC)
    const filler = await open(join(full, 'filler'), 'w');
    try {
      for (const block = Buffer.alloc(4096); ; ) await filler.write(block);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      await filler.close();
    }

    const refused = await ferry(['import', third, '--keyring', key.public, '--store', store]);
    expect(refused.code, refused.stderr).toBe(71);
    expect(refused.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([expect.stringMatching(/is full \(ENOSPC\).*ferry gc/)]);
    expect(refused.stderr).not.toContain('internal error');

    // gc is what frees space: it must run on a full disk
    const gc = await ferry(['gc', '--keep', '1', '--store', store]);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stdout).toMatch(/removed 1 release\(s\), 0 unreferenced tree\(s\), 1 blob\(s\)/);
    expect(await readdir(join(store, '.tmp'))).toEqual([]);

    const again = await ferry(['import', third, '--keyring', key.public, '--store', store]);
    expect(again.code, again.stderr).toBe(0);
    const list = await ferry(['list', '--store', store, '--json']);
    expect(JSON.parse(list.stdout).map((r: { version: string }) => r.version)).toEqual(['2.0.0', '3.0.0']);
    expect(JSON.parse((await ferry(['audit', 'verify', '--store', store, '--json'])).stdout)).toMatchObject({ ok: true });
  });

  it('a scratch folder whose pid file could not be written (a full disk) still names its live owner, however old', async () => {
    const tmp = join(dir, 'scratch-names', '.tmp');
    const other = spawn('sleep', ['600'], { stdio: 'ignore' });
    const stopped = new Promise((r) => other.on('close', r));
    try {
      const stat = readFileSync(`/proc/${other.pid}/stat`, 'latin1');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      const ns = /^pid:\[(\d+)\]$/.exec(readlinkSync(`/proc/${other.pid}/ns/pid`))![1];
      const live = join(tmp, `gc-${other.pid}.${start}.${ns}-AbC123`);
      await mkdir(live, { recursive: true });
      await writeFile(join(live, 'pid'), ''); // created, then the write failed
      // past the grace a folder without its pid gets (it was made a moment before its pid file)
      await utimes(live, new Date(0), new Date(0));
      expect(await findLiveScratch(tmp, 'gc')).toEqual([{ dir: live, pid: other.pid }]);
    } finally {
      other.kill();
      await stopped;
    }
    await utimes(join(tmp, (await readdir(tmp))[0]!), new Date(0), new Date(0));
    expect(await findLiveScratch(tmp, 'gc')).toEqual([]); // its owner gone: stale
  });
});
