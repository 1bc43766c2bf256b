import { beforeEach, describe, expect, it, vi } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { fs as memfs, vol } from 'memfs';
import * as openpgp from 'openpgp';

// Unit tests of the store logic on an in-memory file system: fast, and every file the import touches is visible.
vi.mock('node:fs/promises', () => ({ ...memfs.promises, default: memfs.promises }));
vi.mock('node:fs', () => ({ ...memfs, default: memfs }));
// syncfs is spawned (`sync -f`) on the real disk, which holds none of memfs' files
vi.mock('../../src/util/syncFileSystem.js', () => ({ syncFileSystem: async () => {} }));

const { importBundle } = await import('../../src/store/importBundle.js');
const { listReleases } = await import('../../src/store/listReleases.js');
const { resolveRelease } = await import('../../src/store/resolveRelease.js');
const { writeTar } = await import('../../src/bundle/writeTar.js');
const { generateKey } = await import('../../src/pgp/generateKey.js');
const { signDetached } = await import('../../src/pgp/sign.js');
const { canonicalJson } = await import('../../src/util/canonicalJson.js');
const { manifestFor } = await import('../helpers/craft.js');

const keyPair = await generateKey({ name: 'memfs team' });
const secret = await openpgp.readPrivateKey({ armoredKey: keyPair.secretArmored });
const pub = await openpgp.readKey({ armoredKey: keyPair.publicArmored });

async function bundle(version: string, files: Record<string, string>): Promise<Buffer> {
  const list = Object.entries(files).map(([path, text]) => ({ path, data: Buffer.from(text) }));
  const manifest = manifestFor(list, { name: 'app', version });
  const bytes = Buffer.from(canonicalJson(manifest));
  const sig = await signDetached(bytes, [secret], secret.getCreationTime());
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeTar(
    out,
    [
      { path: 'manifest.json', data: bytes, size: bytes.length },
      { path: 'manifest.json.asc', data: Buffer.from(sig), size: Buffer.byteLength(sig) },
      ...manifest.entries.map((e) => ({ path: e.path, data: Buffer.from(files[e.path]!), size: e.size })),
    ],
    // the epoch, as ferry's writer gives every entry (the readers insist on it)
    new Date(manifest.epoch),
  );
  return Buffer.concat(chunks);
}

const importBytes = (b: Buffer) => importBundle(Readable.from([b]), { storeDir: '/store', keys: [pub] });

describe('store (memfs)', () => {
  beforeEach(() => {
    vol.reset();
    vol.mkdirSync('/store', { recursive: true });
  });

  it('lays out blobs, bundle trees and refs, with tree files hard-linked to blobs', async () => {
    const r = await importBytes(await bundle('1.0.0', { 'files/s/a.txt': 'A', 'files/s/b.txt': 'B' }));
    expect(r.already).toBe(false);
    const blobs = vol.readdirSync('/store/blobs/sha256') as string[];
    expect(blobs).toHaveLength(2);
    expect(vol.readFileSync(`/store/refs/app/1.0.0`, 'utf8')).toBe(`${r.digest}\n`);
    const tree = `/store/bundles/${r.digest}`;
    expect(vol.readFileSync(`${tree}/files/s/a.txt`, 'utf8')).toBe('A');
    const ino = vol.statSync(`${tree}/files/s/a.txt`).ino;
    expect(blobs.map((b) => vol.statSync(`/store/blobs/sha256/${b}`).ino)).toContain(ino);
    expect(vol.readdirSync('/store/.tmp')).toEqual([]);
  });

  it('stores an artifact shared by two releases once', async () => {
    await importBytes(await bundle('1.0.0', { 'files/s/a.txt': 'same', 'files/s/b.txt': 'B1' }));
    const r2 = await importBytes(await bundle('2.0.0', { 'files/s/a.txt': 'same', 'files/s/b.txt': 'B2' }));
    expect(vol.readdirSync('/store/blobs/sha256')).toHaveLength(3);
    expect(r2.newBytes).toBe(2);
    const releases = await listReleases('/store');
    expect(releases.map((x) => x.version)).toEqual(['1.0.0', '2.0.0']);
  });

  it('says a second import of the same bundle is a no-op and writes nothing', async () => {
    const b = await bundle('1.0.0', { 'files/s/a.txt': 'A' });
    await importBytes(b);
    const before = vol.toJSON();
    const again = await importBytes(b);
    expect(again.already).toBe(true);
    expect(vol.toJSON()).toEqual(before);
  });

  it('refuses a different bundle under an existing name and version', async () => {
    await importBytes(await bundle('1.0.0', { 'files/s/a.txt': 'A' }));
    const before = vol.toJSON();
    await expect(importBytes(await bundle('1.0.0', { 'files/s/a.txt': 'other' }))).rejects.toThrow(/already holds app 1.0.0 as [0-9a-f]{64}, this bundle is/);
    expect(vol.toJSON()).toEqual(before);
  });

  it('resolves releases by digest prefix, NAME/VERSION and NAME (newest)', async () => {
    const r1 = await importBytes(await bundle('1.0.0', { 'files/s/a.txt': '1' }));
    await importBytes(await bundle('1.1.0', { 'files/s/a.txt': '2' }));
    expect((await resolveRelease('/store', r1.digest.slice(0, 12))).version).toBe('1.0.0');
    expect((await resolveRelease('/store', 'app/1.0.0')).digest).toBe(r1.digest);
    expect((await resolveRelease('/store', 'app')).version).toBe('1.1.0');
    await expect(resolveRelease('/store', 'app/9')).rejects.toThrow(/no release app\/9 in store \/store \(releases: app\/1.0.0, app\/1.1.0\)/);
  });
});
