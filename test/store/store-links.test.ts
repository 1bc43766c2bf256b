import { beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import { StoreError } from '../../src/errors.js';
import { importBundle } from '../../src/store/importBundle.js';
import { collectGarbage } from '../../src/store/collectGarbage.js';
import { listReleases } from '../../src/store/listReleases.js';
import { syncReleaseLinks } from '../../src/store/syncReleaseLinks.js';
import { generateKey } from '../../src/pgp/generateKey.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { ferry } from '../helpers/cli.js';
import { snapshotTree } from '../helpers/tree.js';
import { startServer } from '../serve/startServer.js';
import { curl } from '../serve/curl.js';

/**
 * Stores crafted by hand (a restored backup, a careless script, a local user with write access to part
 * of it): a ref that is not a digest, and links in the store's own folders. Every command refuses them
 * with a StoreError (exit 71) naming the path, and nothing outside the store is read as the store's or
 * changed.
 */
describe('a crafted store: refs and links ferry never makes are refused, never followed', () => {
  let dir: string;
  let base: string;
  let key: openpgp.PrivateKey;
  let pub: openpgp.PublicKey;
  const digests: Record<string, string> = {};
  const files = (v: string) => [
    { path: 'files/app/common.txt', data: Buffer.from('in every release\n') },
    { path: `files/app/v${v}.txt`, data: Buffer.from(`release ${v}\n`) },
  ];
  const bundle = (v: string, day: string) => craftBundle(manifestFor(files(v), { name: 'app', version: v, epoch: `2026-11-${day}T00:00:00.000Z` }), key, files(v));
  const importInto = async (store: string, bytes: Buffer) => importBundle(Readable.from([bytes]), { storeDir: store, keys: [pub] });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-store-links-'));
    const k = await generateKey({ name: 'links team' });
    key = await openpgp.readPrivateKey({ armoredKey: k.secretArmored });
    pub = key.toPublic();
    await writeFile(join(dir, 'team.asc'), k.publicArmored);
    base = join(dir, 'base');
    for (const [v, day] of [['1.0.0', '01'], ['2.0.0', '02']] as const) digests[v] = (await importInto(base, await bundle(v, day))).digest;
    await syncReleaseLinks(base);
  });

  let n = 0;
  /** a copy of the two-release store, beside an "outside" folder that must never change */
  async function crafted(): Promise<{ store: string; outside: string }> {
    const root = join(dir, `case-${++n}`);
    const store = join(root, 'store');
    const outside = join(root, 'outside');
    await cp(base, store, { recursive: true, verbatimSymlinks: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'precious.txt'), 'not the store\n');
    return { store, outside };
  }

  /** move STORE/rel outside and leave a link to it in its place */
  async function plantLink(store: string, outside: string, rel: string): Promise<void> {
    const moved = join(outside, rel.replaceAll('/', '_'));
    await rename(join(store, rel), moved);
    await symlink(moved, join(store, rel));
  }

  async function expectLinkRefused(what: Promise<unknown>, path: string): Promise<void> {
    const err = await what.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).exitCode).toBe(71);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(/symbolic link/);
  }

  it('ferry gc refuses a ref that does not hold a digest, and removes nothing inside or outside the store', async () => {
    const { store, outside } = await crafted();
    // the ref points "at" a folder outside the store that looks like an old release of app
    await writeFile(join(outside, 'manifest.json'), await readFile(join(store, 'bundles', digests['1.0.0']!, 'manifest.json')));
    await mkdir(join(store, 'refs', 'app'), { recursive: true });
    await writeFile(join(store, 'refs', 'app', '0.0.1'), '../../outside\n');
    const before = { store: await snapshotTree(store), outside: await snapshotTree(outside) };
    const r = await ferry(['gc', '--store', store, '--keep', '1']);
    expect(r.code, r.stderr).toBe(71);
    expect(r.stderr).toBe(`ferry: ${join(store, 'refs', 'app', '0.0.1')}: does not hold a bundle digest; gc removes nothing until that ref is fixed or removed\n`);
    expect(await snapshotTree(outside)).toEqual(before.outside);
    expect(await snapshotTree(store)).toEqual(before.store);
  });

  it.each(['.tmp', 'refs', 'bundles', 'blobs', 'blobs/sha256', 'releases'])('a link in place of STORE/%s is refused by import, gc, list and serve', async (rel) => {
    const { store, outside } = await crafted();
    await mkdir(join(store, '.tmp'), { recursive: true });
    await plantLink(store, outside, rel);
    const before = await snapshotTree(outside);
    const path = join(store, rel);
    await expectLinkRefused(importInto(store, await bundle('3.0.0', '03')), path);
    await expectLinkRefused(collectGarbage({ storeDir: store, keep: 1 }), path);
    await expectLinkRefused(listReleases(store), path);
    await expectLinkRefused(startServer(store), path);
    expect(await snapshotTree(outside)).toEqual(before);
  });

  it('a release name or version that is a link is refused by import, gc and list, and answered 500 by serve', async () => {
    for (const rel of ['refs/app', 'refs/app/2.0.0']) {
      const { store, outside } = await crafted();
      await plantLink(store, outside, rel);
      const before = await snapshotTree(outside);
      const path = join(store, rel);
      // importing that release again reads its ref: refused
      await expectLinkRefused(importInto(store, await bundle('2.0.0', '02')), path);
      await expectLinkRefused(collectGarbage({ storeDir: store, keep: 1 }), path);
      await expectLinkRefused(listReleases(store), path);
      const server = await startServer(store);
      try {
        expect((await curl(`${server.url}/releases/app/2.0.0/manifest.json`)).status).toBe(500);
        expect(server.warnings.at(-1)).toContain(`${path} is a symbolic link`);
      } finally {
        await server.close(1000);
      }
      expect(await snapshotTree(outside)).toEqual(before);
    }
  });

  it('a bundle folder that is a link is refused by gc and list, answered 500 by serve, and never removed through', async () => {
    const { store, outside } = await crafted();
    const rel = `bundles/${digests['1.0.0']}`;
    await plantLink(store, outside, rel);
    const before = await snapshotTree(outside);
    await expectLinkRefused(collectGarbage({ storeDir: store, keep: 1 }), join(store, rel));
    await expectLinkRefused(listReleases(store), join(store, rel));
    const server = await startServer(store);
    try {
      expect((await curl(`${server.url}/${rel}/manifest.json`)).status).toBe(500);
      expect(server.warnings.at(-1)).toContain(`${join(store, rel)} is a symbolic link`);
    } finally {
      await server.close(1000);
    }
    expect(await snapshotTree(outside)).toEqual(before);
  });

  it('a blob that is a link is refused by gc and by an import that would share it', async () => {
    const { store, outside } = await crafted();
    const blobs = join(store, 'blobs', 'sha256');
    const { sha256Hex } = await import('../../src/util/sha256.js');
    const rel = `blobs/sha256/${sha256Hex(files('1.0.0')[0]!.data)}`;
    await plantLink(store, outside, rel);
    const before = { store: await snapshotTree(store), outside: await snapshotTree(outside) };
    await expectLinkRefused(collectGarbage({ storeDir: store, keep: 1 }), join(store, rel));
    await expectLinkRefused(importInto(store, await bundle('3.0.0', '03')), join(store, rel));
    expect(await snapshotTree(outside)).toEqual(before.outside);
    expect(await snapshotTree(store)).toEqual(before.store);
    expect(dirname(join(store, rel))).toBe(blobs);
  });

  it('a link among the scratch folders of STORE/.tmp is refused by import and gc, and its target is not swept', async () => {
    const { store, outside } = await crafted();
    await mkdir(join(store, '.tmp'), { recursive: true });
    await symlink(outside, join(store, '.tmp', 'import-planted'));
    const before = await snapshotTree(outside);
    await expectLinkRefused(importInto(store, await bundle('3.0.0', '03')), join(store, '.tmp', 'import-planted'));
    await expectLinkRefused(collectGarbage({ storeDir: store, keep: 1 }), join(store, '.tmp', 'import-planted'));
    expect(await snapshotTree(outside)).toEqual(before);
  });

  it('a release-link folder that is a link is refused, and no link is written through it', async () => {
    const { store, outside } = await crafted();
    await plantLink(store, outside, 'releases/app');
    const before = await snapshotTree(outside);
    await expectLinkRefused(syncReleaseLinks(store), join(store, 'releases', 'app'));
    expect(await snapshotTree(outside)).toEqual(before);
  });
});
