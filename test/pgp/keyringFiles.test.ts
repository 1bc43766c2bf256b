import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { craftTar, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { canonicalJson } from '../../src/util/canonicalJson.js';
import { signDetached } from '../../src/pgp/sign.js';

/**
 * What `--keyring` trusts is a key file: armored key blocks in text, or a binary keyring. A .ferry bundle
 * carries its own signer's public key (keys/bundle.asc, plain text inside the tar): given as the keyring,
 * it would make any bundle vouch for itself.
 */
describe('keyring files', () => {
  let dir: string;
  let mallory: Awaited<ReturnType<typeof writeKey>>;
  let bundle: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-keyring-files-'));
    mallory = await writeKey(dir, 'mallory');
    const files = [
      { path: 'files/s/a.txt', data: Buffer.from('artifact a\n') },
      { path: 'keys/bundle.asc', data: Buffer.from(mallory.publicArmored) },
    ];
    const manifest = Buffer.from(canonicalJson(manifestFor(files)));
    const signature = await signDetached(manifest, [await openpgp.readPrivateKey({ armoredKey: mallory.secretArmored })], new Date());
    bundle = join(dir, 'evil.ferry');
    await writeFile(bundle, craftTar([{ path: 'manifest.json', data: manifest }, { path: 'manifest.json.asc', data: Buffer.from(signature) }, ...files]));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([['verify'], ['inspect']])('%s refuses the bundle itself as the keyring (exit 66, one line)', async (command) => {
    const r = await ferry([command, bundle, '--keyring', bundle]);
    expect(r.code, r.stdout + r.stderr).toBe(66);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry: .*evil\.ferry: not a key file: it holds binary data around its armored key block/);
  });

  it('import refuses it too and writes nothing to the store', async () => {
    const store = join(dir, 'store');
    const r = await ferry(['import', bundle, '--store', store, '--keyring', bundle]);
    expect(r.code, r.stderr).toBe(66);
    expect(r.stderr).toMatch(/not a key file/);
    expect(await readdir(join(store, 'bundles')).catch(() => [])).toEqual([]);
    expect(await readdir(join(store, 'refs')).catch(() => [])).toEqual([]);
  });

  it('takes the same key from its own file, with text around the block', async () => {
    const keyring = join(dir, 'mallory-with-notes.asc');
    await writeFile(keyring, `Mallory's key, fingerprint below.\n\n${mallory.publicArmored}\n-- handed over on 2026-12-01\n`);
    const r = await ferry(['verify', bundle, '--keyring', keyring]);
    expect(r.code, r.stderr).toBe(0);
  });
});
