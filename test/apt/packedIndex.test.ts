import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackedIndex, PackedIndexWriter, packIndex } from '../../src/sources/apt/packedIndex.js';
import type { AptPackage } from '../../src/sources/apt/types.js';

const origin = { uri: 'http://127.0.0.1/debian', suite: 'test', component: 'main' };
const full: AptPackage = {
  name: 'app', version: '1:2.0~rc1-1', architecture: 'amd64', multiArch: 'allowed', essential: true, important: true, priority: 'required',
  depends: 'libfoo (>= 1.2) | libbar:any, libbaz', preDepends: 'prelib', recommends: 'rec', conflicts: 'old-app (<< 2)', breaks: 'plugin (<< 1)',
  otherRelations: 'sug, rep, enh', provides: [{ name: 'httpd' }, { name: 'app-abi', op: '=', version: '2' }],
  filename: 'pool/main/a/app/app_2.0~rc1-1_amd64.deb', size: 2 ** 40 + 17, sha256: 'ab'.repeat(32), origin,
};
const bare: AptPackage = { name: 'libfoo', version: '1.3-1', architecture: 'all', essential: false, provides: [], filename: 'pool/main/l/libfoo.deb', size: 5, sha256: 'cd'.repeat(32), origin };

describe('the packed form of a Packages index', () => {
  it('gives back every field of every package, decoded on first use and the same object after', () => {
    const packed = PackedIndex.open(packIndex([full, bare]), origin)!;
    expect(packed.count).toBe(2);
    expect(packed.get(0)).toStrictEqual(full);
    expect(packed.get(1)).toStrictEqual(bare);
    expect(packed.get(0)).toBe(packed.get(0));
  });

  it('finds packages by name and by what they provide through its own hash table', () => {
    const packed = PackedIndex.open(packIndex([full, bare]), origin)!;
    expect([...packed.recordsNamed(packed.lookup('libfoo')!)]).toEqual([1]);
    expect([...packed.recordsProviding(packed.lookup('httpd')!)]).toEqual([0]);
    expect(packed.recordsNamed(packed.lookup('libbaz')!).length).toBe(0); // met in a relation, no package of that name
    expect(packed.lookup('ghost')).toBeUndefined();
  });

  it('refuses a truncated, extended or altered buffer, and another layout', () => {
    const good = packIndex([full, bare]);
    const altered = Buffer.from(good);
    altered[altered.length - 1] ^= 1;
    const otherLayout = Buffer.from(good);
    otherLayout.writeUInt32LE(otherLayout.readUInt32LE(4) + 1, 4);
    for (const bad of [good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from([0])]), altered, otherLayout, Buffer.alloc(0)]) {
      expect(PackedIndex.open(bad, origin)).toBeUndefined();
    }
    expect(PackedIndex.open(good, origin)).toBeDefined();
  });

  it('reads a packed index file: the same packages, strings read from the file when first used', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-packed-'));
    try {
      const file = join(dir, 'index');
      await writeFile(file, packIndex([full, bare]));
      const packed = PackedIndex.openFile(file, origin)!;
      expect(packed.get(1)).toStrictEqual(bare);
      expect(packed.get(0)).toStrictEqual(full);
      expect([...packed.recordsProviding(packed.lookup('app-abi')!)]).toEqual([0]);
      expect(PackedIndex.openFile(join(dir, 'missing'), origin)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a packed index file that is truncated, extended, altered in its table or its strings, or of another layout', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-packed-'));
    try {
      const good = packIndex([full, bare]);
      const flip = (at: number) => {
        const b = Buffer.from(good);
        b[at] ^= 1;
        return b;
      };
      const otherLayout = Buffer.from(good);
      otherLayout.writeUInt32LE(otherLayout.readUInt32LE(4) + 1, 4);
      const bad = { truncated: good.subarray(0, good.length - 1), extended: Buffer.concat([good, Buffer.from([0])]), table: flip(60), strings: flip(good.length - 1), otherLayout, empty: Buffer.alloc(0), header: good.subarray(0, 20) };
      for (const [what, bytes] of Object.entries(bad)) {
        await writeFile(join(dir, what), bytes);
        expect(PackedIndex.openFile(join(dir, what), origin), what).toBeUndefined();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('PackedIndexWriter', () => {
  const pkg = (name: string, version: string, depends?: string): AptPackage => ({
    name, version, architecture: 'amd64', essential: false, provides: [], filename: `pool/${name}_${version}.deb`, size: 1, sha256: createHash('sha256').update(name + version).digest('hex'), origin, ...(depends ? { depends } : {}),
  });

  it('keeps a string many packages share once, and tells apart two strings whose hashes collide', () => {
    // two different strings with the same 32-bit FNV-1a hash (the writer's table hashes bytes with it)
    const fnv = (s: string) => {
      let h = 0x811c9dc5;
      for (const b of Buffer.from(s)) h = Math.imul(h ^ b, 0x01000193);
      return h >>> 0;
    };
    const pair: [string, string] = ['1.541166-1', '1.2041000-1']; // found by counting up until two hashes met
    expect(fnv(pair[0])).toBe(fnv(pair[1]));
    const shared = 'libc6 (>= 2.36), libssl3 (>= 3.0.0)';
    const packages = [pkg('a', pair[0], shared), pkg('b', pair[1], shared), pkg('c', pair[0], shared), pkg('d', pair[1])];
    const writer = new PackedIndexWriter();
    for (const p of packages) writer.add(p);
    const packed = PackedIndex.fromParts(writer.finish(), origin);
    packages.forEach((p, i) => expect(packed.get(i)).toStrictEqual(p));
    // names a-d, the two versions, the Depends line, the two names it meets, the architecture, and a file
    // name and sha256 per package
    expect(packed.strings).toBe(4 + 2 + 1 + 2 + 1 + 4 * 2);
    // the names its relations meet are found through the lookup table too
    expect([...packed.recordsNamed(packed.lookup('c')!)]).toEqual([2]);
    expect(packed.lookup('libssl3')).toBeDefined();
  });

  it('gives the same index from its parts in memory as from those parts written to a file, across many text chunks', async () => {
    // strings of a third of a MiB and more start text chunks of their own; the rest fill 1 MiB chunks
    const big = Array.from({ length: 9000 }, (_, i) => `lib${i} (>= ${i})`).join(', ');
    const packages = [
      ...Array.from({ length: 3000 }, (_, i) => pkg(`p${i}`, `${i}.0-1`, i % 3 === 0 ? `dep${i % 7}` : undefined)),
      pkg('huge', '1', big + ', x'.repeat(200_000)),
      pkg('ünïcode-ok', '2', big + ', é'.repeat(120_000)),
      ...Array.from({ length: 3000 }, (_, i) => pkg(`q${i}`, `${i}.1-1`, `${big.slice(0, 300)}, q${i}-dep`)),
    ];
    const writer = new PackedIndexWriter();
    for (const p of packages) writer.add(p);
    const parts = writer.finish();
    expect(parts.length).toBeGreaterThanOrEqual(1 + 10 + 4); // the header, the tables, at least four text chunks
    const dir = await mkdtemp(join(tmpdir(), 'ferry-packed-'));
    try {
      await writeFile(join(dir, 'index'), parts);
      const fromFile = PackedIndex.openFile(join(dir, 'index'), origin)!;
      const inMemory = PackedIndex.fromParts(parts, origin);
      expect(inMemory.count).toBe(packages.length);
      for (let i = 0; i < packages.length; i += 97) expect(inMemory.get(i)).toStrictEqual(packages[i]);
      for (const i of [3000, 3001, packages.length - 1]) {
        expect(inMemory.get(i)).toStrictEqual(packages[i]);
        expect(fromFile.get(i)).toStrictEqual(packages[i]);
      }
      expect(fromFile.strings).toBe(inMemory.strings);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
