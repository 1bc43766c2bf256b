import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { writeKey } from '../helpers/keys.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { snapshotTree } from '../helpers/tree.js';
import { ferry } from './fixtures.js';

/** A signed differential manifest that contradicts itself is refused as a format error, never an internal one. */
describe('differential manifests that do not add up', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let key: openpgp.PrivateKey;
  const files = [
    { path: 'files/s/a.txt', data: Buffer.from('a\n') },
    { path: 'files/s/b.txt', data: Buffer.from('b\n') },
  ];
  const base = { name: 'crafted', version: '0.9.0', digest: 'a'.repeat(64) };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-diff-refuse-'));
    team = await writeKey(dir, 'team');
    key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
  });

  it.each([
    ['omits a path it does not list', { base, omitted: ['files/s/zz.txt'] }, /manifest omits files\/s\/zz\.txt, which it does not list/],
    ['omits a path twice', { base, omitted: ['files/s/a.txt', 'files/s/a.txt'] }, /manifest omits files\/s\/a\.txt twice/],
    ['omits entries without naming a base', { omitted: ['files/s/a.txt'] }, /manifest omits entries but names no base release/],
    [
      'names its own name and version as its base',
      { base: { ...base, version: '1.0.0' }, omitted: ['files/s/a.txt'] },
      /: manifest names crafted 1\.0\.0, its own name and version, as its base: a store that holds that base refuses this bundle under the same NAME\/VERSION; build it over an earlier release, or in full\n$/,
    ],
  ])('a manifest that %s', async (name, extra, message) => {
    const bytes = await craftBundle(manifestFor(files, extra), key, files.slice(1));
    const file = join(dir, `${name.replace(/\W+/g, '-')}.ferry`);
    await writeFile(file, bytes);
    for (const args of [['verify', file, '--keyring', team.public], ['import', file, '--keyring', team.public, '--store', join(dir, 'store')]]) {
      const r = await ferry(args);
      expect(r.code, r.stderr).toBe(68);
      expect(r.stderr).toMatch(message);
    }
  });

  it('a differential whose base is in the store, but holds other content at a path it omits: exit 71 saying so, store unchanged', async () => {
    const store = join(dir, 'store-base');
    const v1 = [
      { path: 'files/s/a.txt', data: Buffer.from('a1\n') },
      { path: 'files/s/b.txt', data: Buffer.from('b1\n') },
    ];
    await writeFile(join(dir, 'base-1.ferry'), await craftBundle(manifestFor(v1), key, v1));
    expect((await ferry(['import', join(dir, 'base-1.ferry'), '--keyring', team.public, '--store', store])).code).toBe(0);
    const digest = (JSON.parse((await ferry(['list', '--store', store, '--json'])).stdout) as Array<{ digest: string }>)[0]!.digest;
    const before = await snapshotTree(store);
    // a.txt omitted "from the base", but listed with content the base never had
    const v2 = [
      { path: 'files/s/a.txt', data: Buffer.from('a2, not in the base\n') },
      { path: 'files/s/b.txt', data: Buffer.from('b2\n') },
    ];
    const m = manifestFor(v2, { version: '2.0.0', base: { name: 'crafted', version: '1.0.0', digest }, omitted: ['files/s/a.txt'] });
    await writeFile(join(dir, 'over-1.ferry'), await craftBundle(m, key, v2.slice(1)));
    const r = await ferry(['import', join(dir, 'over-1.ferry'), '--keyring', team.public, '--store', store]);
    expect(r.code, r.stderr).toBe(71);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`over crafted 1\\.0\\.0 \\(${digest}\\), which this store holds, but 1 artifact it takes from there is not in it with the sha256 the bundle lists \\(files/s/a\\.txt\\)`));
    expect(await snapshotTree(store)).toEqual(before);
  });

  it('a differential over another bundle of a NAME/VERSION the store holds: exit 71 naming both digests, not "import it first", store unchanged', async () => {
    const store = join(dir, 'store-other-build');
    const v1 = [
      { path: 'files/s/a.txt', data: Buffer.from('a1\n') },
      { path: 'files/s/b.txt', data: Buffer.from('b1\n') },
    ];
    // the store's crafted 1.0.0 and a rebuild of it with other content: the differential was made over the rebuild
    await writeFile(join(dir, 'held-1.ferry'), await craftBundle(manifestFor(v1), key, v1));
    expect((await ferry(['import', join(dir, 'held-1.ferry'), '--keyring', team.public, '--store', store])).code).toBe(0);
    const held = (JSON.parse((await ferry(['list', '--store', store, '--json'])).stdout) as Array<{ digest: string }>)[0]!.digest;
    const other = 'c'.repeat(64);
    const before = await snapshotTree(store);
    const v2 = [
      { path: 'files/s/a.txt', data: Buffer.from('a1, rebuilt\n') },
      { path: 'files/s/c.txt', data: Buffer.from('c2\n') },
    ];
    const m = manifestFor(v2, { version: '2.0.0', base: { name: 'crafted', version: '1.0.0', digest: other }, omitted: ['files/s/a.txt'] });
    await writeFile(join(dir, 'over-rebuild.ferry'), await craftBundle(m, key, v2.slice(1)));
    const r = await ferry(['import', join(dir, 'over-rebuild.ferry'), '--keyring', team.public, '--store', store]);
    expect(r.code, r.stderr).toBe(71);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain(`is a differential bundle over crafted 1.0.0 (${other}), but this store holds crafted 1.0.0 as ${held}, which lacks 1 artifact it takes from there (files/s/a.txt): the bundle was made over another build of that release; bring the full bundle`);
    expect(r.stderr).not.toContain('first');
    expect(await snapshotTree(store)).toEqual(before);
  });
});
