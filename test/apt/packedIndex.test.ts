import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackedIndex, packIndex } from '../../src/sources/apt/packedIndex.js';
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
