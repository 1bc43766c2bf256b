import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBundle } from '../../src/build/buildBundle.js';
import { openPlacedBundle, type PlacedEntry } from '../../src/build/placeBundle.js';
import { pattern } from '../helpers/pattern.js';

const K = 1024;
const MTIME = new Date('2026-11-25T00:00:00Z');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const manifest = Buffer.from('{"format":"test"}\n');
const signature = '-----BEGIN PGP SIGNATURE-----\n\nnot checked here\n-----END PGP SIGNATURE-----\n';

describe('a bundle filled in place has the bytes packBundle writes', () => {
  let dir: string;
  let entries: PlacedEntry[];
  let data: Buffer[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-placebundle-${process.pid}-`));
    // sizes around the 512-byte blocks and the 1 MiB reads, a path only a pax header holds, one not ASCII
    const sizes = [0, 1, 511, 512, 513, 64 * K, K * K - 1, K * K, K * K + 1, 3 * K * K + 12_345];
    data = sizes.map((size, i) => pattern(size, i + 1));
    entries = await Promise.all(
      sizes.map(async (size, i) => {
        const file = join(dir, `src-${i}`);
        await writeFile(file, data[i]!);
        const path = i === 3 ? `files/${'long-name/'.repeat(20)}e${i}` : i === 4 ? `files/é${i}` : `files/e${i}-${size}.bin`;
        return { path, size, sha256: sha256(data[i]!), file, verified: i % 2 === 0 };
      }),
    );
    entries.sort((a, b) => (a.path < b.path ? -1 : 1));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('whether each entry is copied in at the end or written by a download in chunks, in any order', async () => {
    const packed = join(dir, 'packed.ferry');
    await packBundle(packed, manifest, signature, entries, MTIME);
    const placedPath = join(dir, 'placed.ferry');
    const bundle = await openPlacedBundle(placedPath, manifest, signature, entries, MTIME, join(dir, 'cache'));
    // the large entries arrive as downloads do: chunks of 64 KiB, the last chunk first
    const downloaded = entries.filter((e) => e.size > 100 * K);
    for (const e of downloaded) {
      const bytes = await readFile(e.file);
      const writer = bundle.writer(e.sha256, e.size)!;
      const offsets = [];
      for (let at = 0; at < bytes.length; at += 64 * K) offsets.push(at);
      for (const at of offsets.reverse()) await writer.write([bytes.subarray(at, at + 64 * K)], at);
      bundle.placed(e.sha256, false);
    }
    // a download's file is gone once placed: finish must not read it
    for (const e of downloaded) await rm(e.file);
    const size = await bundle.finish(entries);
    expect((await readFile(placedPath)).equals(await readFile(packed))).toBe(true);
    expect(size).toBe((await readFile(packed)).length);
    expect((await readdir(dir)).filter((n) => n.endsWith('.partial'))).toEqual([]);
    // entries are sorted by path: each file gets its own bytes back (data is in the order of the sizes)
    for (const e of entries) await writeFile(e.file, data[Number(e.file.slice(e.file.lastIndexOf('-') + 1))]!);
  });

  it('refuses a write past its entry, and a copied file that is not its digest: no bundle, no partial', async () => {
    const path = join(dir, 'refused.ferry');
    const bundle = await openPlacedBundle(path, manifest, signature, entries, MTIME, join(dir, 'cache-refused'));
    const last = entries.find((e) => e.size === K * K + 1)!;
    await expect(bundle.writer(last.sha256, last.size)!.write([Buffer.alloc(2)], last.size - 1)).rejects.toThrow(/do not fit/);
    const damaged = entries.find((e) => !e.verified && e.size > 0)!;
    const bytes = await readFile(damaged.file);
    bytes[0] ^= 0xff;
    await writeFile(damaged.file, bytes);
    try {
      await expect(bundle.finish(entries)).rejects.toThrow(`${damaged.file} has sha256`);
    } finally {
      bytes[0] ^= 0xff;
      await writeFile(damaged.file, bytes);
    }
    expect((await readdir(dir)).filter((n) => n.startsWith('refused'))).toEqual([]);
  });
});
