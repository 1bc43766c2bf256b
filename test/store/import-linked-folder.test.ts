import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';

/**
 * A store someone else can write: a folder inside a stored bundle tree (bundles/DIGEST/files/app) replaced by a
 * symbolic link to a folder outside the store. checkStorePath refuses a link at the last component only, so the
 * entry's path went through the link: importing the bundle again found "a damaged file of its own" there and
 * rewrote it, in place, with the entry's bytes: a file outside the store (as root: /etc/...) overwritten and
 * made read-only, reported as a repair. verify --store read (and hashed) the file outside the store too.
 */
describe('a folder of a stored bundle tree replaced by a link out of the store', () => {
  let dir: string;
  let store: string;
  let outside: string;
  let bundle: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  const victim = 'an operator\'s file outside the store\n';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-linked-folder-'));
    key = await writeKey(dir, 'team');
    const files = [
      { path: 'files/app/settings.conf', data: Buffer.from('what the bundle carries\n') },
      { path: 'files/other.txt', data: Buffer.from('other\n') },
    ];
    bundle = join(dir, 'app-1.0.0.ferry');
    await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'app' }), await openpgp.readPrivateKey({ armoredKey: key.secretArmored }), files));
    store = join(dir, 'store');
    const r = await ferry(['import', bundle, '--keyring', key.public, '--store', store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { digest } = JSON.parse(r.stdout) as { digest: string };
    outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'settings.conf'), victim);
    const folder = join(store, 'bundles', digest, 'files/app');
    await rename(folder, join(dir, 'moved-away'));
    await symlink(outside, folder);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('import again: refused in one line, the file outside the store untouched', async () => {
    const r = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
    expect(await readFile(join(outside, 'settings.conf'), 'utf8')).toBe(victim);
    expect((await stat(join(outside, 'settings.conf'))).mode & 0o777).toBe(0o644);
    expect(r.code, r.stderr).toBe(71);
    expect(r.stderr).toMatch(/^ferry: .*files\/app.* is a symbolic link/m);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toHaveLength(1);
  });

  it('verify --store: the release is damaged, nothing outside the store is read as its file', async () => {
    const r = await ferry(['verify', '--store', store, 'app/1.0.0']);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stdout).toMatch(/^DAMAGED /m);
    expect(r.stderr).toMatch(/files\/app.* is a symbolic link/);
  });
});
