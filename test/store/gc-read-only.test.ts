import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';

/**
 * gc on a store this process cannot write (a read-only mount of it, here a read-only bind mount, which
 * needs root: skipped otherwise): one line (71) saying so, not "internal error" (74), nothing changed.
 */
describe('gc on a read-only store', () => {
  it('refuses with one line (71) naming the store, and removes nothing', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip();
    const dir = await mkdtemp(join(tmpdir(), 'ferry-gc-ro-'));
    const store = join(dir, 'store');
    const ro = join(dir, 'ro');
    try {
      const key = await writeKey(dir, 'team');
      const secret = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
      for (const version of ['1.0.0', '2.0.0']) {
        const files = [{ path: 'files/s/data.bin', data: randomBytes(1024) }];
        const file = join(dir, `app-${version}.ferry`);
        await writeFile(file, await craftBundle(manifestFor(files, { name: 'app', version, epoch: `2026-11-2${version[0]}T00:00:00.000Z` }), secret, files));
        const r = await ferry(['import', file, '--keyring', key.public, '--store', store]);
        expect(r.code, r.stderr).toBe(0);
      }
      await rm(join(store, '.tmp'), { recursive: true }); // a store copied without its scratch folder, too
      await mkdir(ro);
      expect((await run('mount', ['--bind', store, ro])).code).toBe(0);
      expect((await run('mount', ['-o', 'remount,ro,bind', ro])).code).toBe(0);

      const r = await ferry(['gc', '--keep', '1', '--store', ro]);
      expect(r.code, r.stderr).toBe(71);
      expect(r.stderr.trim().split('\n')).toEqual([`ferry: ${ro}: cannot write to the store (EROFS); gc removed nothing: make the store writable for this user`]);
      expect(await readdir(join(store, 'refs', 'app'))).toEqual(['1.0.0', '2.0.0']);
      const dry = await ferry(['gc', '--keep', '1', '--store', ro, '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain('would remove 1 release(s)');
    } finally {
      await run('umount', [ro]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a store path that is a file', () => {
  it('import and verify --store refuse with one line (71), and leave the file as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-store-file-'));
    try {
      const key = await writeKey(dir, 'team');
      const files = [{ path: 'files/s/data.bin', data: randomBytes(1024) }];
      const bundle = join(dir, 'app-1.0.0.ferry');
      await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'app' }), await openpgp.readPrivateKey({ armoredKey: key.secretArmored }), files));
      const store = join(dir, 'store');
      await writeFile(store, 'not a store\n');
      for (const command of ['import', 'verify']) {
        const r = await ferry([command, bundle, '--keyring', key.public, '--store', store]);
        expect(r.code, r.stderr).toBe(71);
        expect(r.stderr.trim().split('\n')).toEqual([`ferry: ${store}: cannot make the store folder (EEXIST: something else is there); nothing was done: give --store a folder this user can write`]);
      }
      expect(await readFile(store, 'utf8')).toBe('not a store\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
