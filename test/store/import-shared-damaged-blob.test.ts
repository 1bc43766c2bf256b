import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { sha256Hex } from '../../src/util/sha256.js';

/**
 * A new release that shares a blob with an earlier one: the stored blob was trusted by its size, so a blob
 * changed on disk (same size, other bytes) was linked into the new release and published under it.
 */
describe('importing a new release whose shared blob was changed on disk', () => {
  it('rewrites the blobs (changed in place, cut short) from the bundle\'s verified bytes (every release linking it mended), warns, and records it in the audit log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-shared-damaged-'));
    try {
      const key = await writeKey(dir, 'team');
      const priv = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
      const data = randomBytes(300 * 1024); // hashed on a worker thread
      const small = randomBytes(1000); // hashed in place
      const cut = randomBytes(200 * 1024); // cut short on disk (a crash, a full disk)
      const shared = [
        { path: 'files/s/data.bin', data },
        { path: 'files/s/small.bin', data: small },
        { path: 'files/s/cut.bin', data: cut },
      ];
      const store = join(dir, 'store');
      const imp = async (version: string, files: typeof shared) => {
        const bundle = join(dir, `app-${version}.ferry`);
        await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'app', version }), priv, files));
        return ferry(['import', bundle, '--keyring', key.public, '--store', store, '--json']);
      };
      const first = await imp('1.0.0', shared);
      expect(first.code, first.stderr).toBe(0);
      const d1 = (JSON.parse(first.stdout) as { digest: string }).digest;

      // one byte of each blob changed in place
      const damage = async (bytes: Buffer) => {
        const blob = join(store, 'blobs/sha256', sha256Hex(bytes));
        const copy = Buffer.from(bytes);
        copy[copy.length >> 1] ^= 1;
        await chmod(blob, 0o644);
        await writeFile(blob, copy);
        await chmod(blob, 0o444);
        return { blob, found: sha256Hex(copy) };
      };
      const big = await damage(data);
      const little = await damage(small);
      const cutBlob = join(store, 'blobs/sha256', sha256Hex(cut));
      await chmod(cutBlob, 0o644);
      await writeFile(cutBlob, cut.subarray(0, 70_000));
      await chmod(cutBlob, 0o444);

      const second = await imp('2.0.0', [...shared, { path: 'files/s/new.txt', data: Buffer.from('new\n') }]);
      expect(second.code, second.stderr).toBe(0);
      const r2 = JSON.parse(second.stdout) as { digest: string; repaired: string[] };
      // what the new release publishes, and what the earlier one links, are the signed bytes again
      for (const d of [r2.digest, d1]) {
        expect(sha256Hex(await readFile(join(store, 'bundles', d, 'files/s/data.bin')))).toBe(sha256Hex(data));
        expect(sha256Hex(await readFile(join(store, 'bundles', d, 'files/s/small.bin')))).toBe(sha256Hex(small));
        expect(sha256Hex(await readFile(join(store, 'bundles', d, 'files/s/cut.bin')))).toBe(sha256Hex(cut));
      }
      expect(((await stat(big.blob)).mode & 0o777).toString(8)).toBe('444');
      expect(r2.repaired.sort()).toEqual([sha256Hex(data), sha256Hex(small), sha256Hex(cut)].sort());
      const warnings = second.stderr.split('\n').filter((l) => l.includes('damaged on disk'));
      expect(warnings).toHaveLength(3);
      expect(warnings.join('\n')).toContain(`${big.blob} held sha256 ${big.found}, not ${sha256Hex(data)}`);
      expect(warnings.join('\n')).toContain(`${little.blob} held sha256 ${little.found}`);
      expect(warnings.join('\n')).toContain(`${cutBlob} held sha256 ${sha256Hex(cut.subarray(0, 70_000))}, not ${sha256Hex(cut)}`);
      // the audit log says so
      const records = (await readFile(join(store, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { result: string; version: string; repaired?: string[] });
      const outcome = records.filter((x) => x.result === 'imported' && x.version === '2.0.0');
      expect(outcome).toHaveLength(1);
      expect(outcome[0]!.repaired?.sort()).toEqual([sha256Hex(data), sha256Hex(small), sha256Hex(cut)].sort());
      expect(records.filter((x) => x.version === '1.0.0' && x.result === 'imported')[0]!.repaired).toBeUndefined();
      // the earlier release is sound again: importing its bundle again is a no-op
      const again = await ferry(['import', join(dir, 'app-1.0.0.ferry'), '--keyring', key.public, '--store', store]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('nothing to do');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses (67) a differential bundle that would take a damaged blob from its base, and publishes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-shared-damaged-diff-'));
    try {
      const key = await writeKey(dir, 'team');
      const priv = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
      const data = randomBytes(100 * 1024);
      const files = [{ path: 'files/s/data.bin', data }];
      const store = join(dir, 'store');
      const base = join(dir, 'app-1.0.0.ferry');
      await writeFile(base, await craftBundle(manifestFor(files, { name: 'app', version: '1.0.0' }), priv, files));
      const first = await ferry(['import', base, '--keyring', key.public, '--store', store, '--json']);
      expect(first.code, first.stderr).toBe(0);
      const d1 = (JSON.parse(first.stdout) as { digest: string }).digest;

      const blob = join(store, 'blobs/sha256', sha256Hex(data));
      const copy = Buffer.from(data);
      copy[7] ^= 1;
      await chmod(blob, 0o644);
      await writeFile(blob, copy);

      const added = { path: 'files/s/new.txt', data: Buffer.from('new\n') };
      const manifest = manifestFor([...files, added], { name: 'app', version: '2.0.0', base: { name: 'app', version: '1.0.0', digest: d1 }, omitted: ['files/s/data.bin'] });
      const diff = join(dir, 'app-2.0.0.ferry');
      await writeFile(diff, await craftBundle(manifest, priv, [added]));
      const r = await ferry(['import', diff, '--keyring', key.public, '--store', store]);
      expect(r.code, r.stderr).toBe(67);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([expect.stringContaining(`ferry: ${blob} has sha256 ${sha256Hex(copy)}, not ${sha256Hex(data)}: the store is damaged`)]);
      expect(await readdir(join(store, 'refs/app'))).toEqual(['1.0.0']);
      expect(await readdir(join(store, 'bundles'))).toEqual([d1]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
