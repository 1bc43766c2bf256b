import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/pgp/generateKey.js';
import { importBundle } from '../../src/store/importBundle.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { pattern } from '../helpers/pattern.js';

describe('import from a bundle file reads into a few buffers used again and again', () => {
  let dir: string;
  let key: openpgp.PrivateKey;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-lent-${process.pid}-`));
    key = await openpgp.readPrivateKey({ armoredKey: (await generateKey({ name: 'lent chunks' })).secretArmored });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('stores every entry byte for byte, whatever its size against the 256 KiB reads, the 64 KiB small-entry bound and the 1 MiB writes', async () => {
    const K = 1024;
    const sizes = [0, 1, 511, 512, 513, 64 * K - 1, 64 * K, 64 * K + 1, 256 * K - 1, 256 * K, 256 * K + 7, K * K - 1, K * K, K * K + 1, 3 * K * K + 12_345, 9 * K * K + 333];
    const files = sizes.map((size, i) => ({ path: `files/e${String(i).padStart(2, '0')}-${size}.bin`, data: pattern(size, i + 1) }));
    const manifest = manifestFor(files, { name: 'lent' });
    const bundle = join(dir, 'lent-1.0.0.ferry');
    await writeFile(bundle, await craftBundle(manifest, key, files.map((f) => ({ path: f.path, data: f.data }))));

    const store = join(dir, 'store');
    const result = await importBundle(bundle, { storeDir: store, keys: [key.toPublic()] });
    expect(result.entries).toBe(files.length);
    for (const f of files) {
      const stored = await readFile(join(store, 'blobs/sha256', createHash('sha256').update(f.data).digest('hex')));
      expect(stored.length, f.path).toBe(f.data.length);
      expect(stored.equals(f.data), f.path).toBe(true);
      expect((await readFile(join(store, 'bundles', result.digest, f.path))).equals(f.data), f.path).toBe(true);
    }
  });
});
