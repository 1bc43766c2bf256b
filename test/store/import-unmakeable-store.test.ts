import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { makeDirectory } from '../../src/util/makeDirectory.js';

/**
 * `ferry import --store /proc/x` never ended: Node 20's mkdir(path, { recursive: true }) retries for good
 * where mkdir(2) says ENOENT for a name whose parent exists (procfs), four threads at 100% CPU. Before the
 * fix these tests do not end (vitest's testTimeout fails them).
 */
describe('a store folder that cannot be made on a pseudo file system', () => {
  it('import and verify --store /proc/NAME: one line, exit 71, nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-unmakeable-store-'));
    try {
      const key = await writeKey(dir, 'team');
      const files = [{ path: 'files/s/a.txt', data: Buffer.from('a\n') }];
      const bundle = join(dir, 'app-1.0.0.ferry');
      await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'app' }), await openpgp.readPrivateKey({ armoredKey: key.secretArmored }), files));
      const store = `/proc/ferry-store-${process.pid}`;
      for (const command of ['import', 'verify']) {
        const r = await ferry([command, bundle, '--keyring', key.public, '--store', store]);
        expect(r.code, r.stderr).toBe(71);
        expect(r.stderr).toBe(`ferry: ${store}: cannot make the store folder (ENOENT); nothing was done: give --store a folder this user can write\n`);
        expect(r.stdout).toBe('');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('makeDirectory rejects with ENOENT there, and still makes missing parents elsewhere', async () => {
    await expect(makeDirectory(`/proc/ferry-mkdir-${process.pid}/a/b`)).rejects.toMatchObject({ code: 'ENOENT' });
    const dir = await mkdtemp(join(tmpdir(), 'ferry-make-directory-'));
    try {
      await makeDirectory(join(dir, 'a/b/c'));
      await makeDirectory(join(dir, 'a/b/c'));
      await writeFile(join(dir, 'file'), '');
      await expect(makeDirectory(join(dir, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
      await expect(makeDirectory(join(dir, 'file/x'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
