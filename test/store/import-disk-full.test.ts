import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';

/**
 * A bundle larger than the space left under the store (volumes joined on a small disk, a bundle that
 * is simply too big): a store problem, refused with one line (71), nothing left in the store but the
 * audit line. The store is a tmpfs of 64 KiB, which needs root (mount): skipped otherwise.
 */
describe('import into a full file system', () => {
  let dir: string;
  let mnt: string;
  let mounted = false;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-diskfull-'));
    mnt = join(dir, 'small');
    await mkdir(mnt);
    if (process.getuid?.() === 0) mounted = (await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt])).code === 0;
  });
  afterAll(async () => {
    if (mounted) await run('umount', [mnt]);
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
});
