import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { sha256Hex } from '../../src/util/sha256.js';

/**
 * A blob of the store changed on disk behind ferry's back (same size, other bytes: `ferry serve` says
 * "re-import the bundle"). Importing that bundle again reported "already in the store: nothing to do",
 * exit 0, and with its ref gone (a killed import's tree) it published the damaged tree as the release.
 */
describe('importing a bundle whose stored copy was changed on disk', () => {
  it('is refused with one line (67) naming the file, and a tree without its ref is not published', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-damaged-store-'));
    try {
      const key = await writeKey(dir, 'team');
      const data = randomBytes(100 * 1024);
      const files = [
        { path: 'files/s/data.bin', data },
        { path: 'files/s/small.txt', data: Buffer.from('small\n') },
      ];
      const bundle = join(dir, 'app-1.0.0.ferry');
      await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'app' }), await openpgp.readPrivateKey({ armoredKey: key.secretArmored }), files));
      const store = join(dir, 'store');
      const first = await ferry(['import', bundle, '--keyring', key.public, '--store', store, '--json']);
      expect(first.code, first.stderr).toBe(0);
      const { digest } = JSON.parse(first.stdout) as { digest: string };
      const again = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(again.code, again.stderr).toBe(0); // a sound store: a no-op

      // one byte of the blob changed in place (every link of it sees the change)
      const blob = join(store, 'blobs/sha256', sha256Hex(data));
      await chmod(blob, 0o644);
      const bytes = await readFile(blob);
      bytes[5000] ^= 1;
      await writeFile(blob, bytes);
      const file = join(store, 'bundles', digest, 'files/s/data.bin');
      const message = `ferry: ${file} has sha256 ${sha256Hex(bytes)} (${bytes.length} bytes), but its manifest says ${sha256Hex(data)} (${data.length}): the store is damaged`;

      const r = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(r.code, r.stderr).toBe(67);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([expect.stringContaining(message)]);
      expect(r.stderr).not.toContain('nothing to do');

      // its ref gone, as after an import killed between publishing its tree and its ref: not claimed
      await unlink(join(store, 'refs/app/1.0.0'));
      const orphan = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(orphan.code, orphan.stderr).toBe(67);
      expect(orphan.stderr).toContain(message);
      expect(await readdir(join(store, 'refs/app')).catch(() => [])).toEqual([]);
      expect(await readdir(join(store, '.tmp'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
