import { gzipSync } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIndexText } from '../../src/sources/apt/fetchPackagesIndex.js';
import { parseControl, parseControlStream } from '../../src/sources/apt/parseControl.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';

/** ~1.5 MB of stanzas of varying length (multi-line fields, UTF-8), so lines and characters cross every 64 KiB piece. */
function packagesText(): string {
  let s = '';
  for (let i = 0; i < 4000; i++) {
    s += `Package: pkg-${i}\nVersion: 1.${i}-${i % 7}\nArchitecture: ${i % 3 ? 'amd64' : 'all'}\nMaintainer: Jörg Ünïcödé ${i} <j${i}@example.invalid>\n`;
    s += `Depends: libc6 (>= 2.${i % 40}), pkg-${(i * 7) % 4000} | pkg-${(i * 11) % 4000}\nProvides: virt-${i % 50} (= ${i})\n`;
    s += `Filename: pool/main/p/pkg-${i}/pkg-${i}_1.${i}_amd64.deb\nSize: ${1000 + i}\nSHA256: ${(i % 16).toString(16).repeat(64)}\n`;
    s += `Description: package ${i}\n ${'lorem ipsum dolor sit amet, consectetur adipiscing elit '.repeat(1 + (i % 5))}\n .\n more ${i}\n\n`;
  }
  return s;
}

describe('reading an index file in pieces', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-index-text-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('gives the same packages from a plain file (lent buffers) and from its gzip, as from the whole text', async () => {
    const text = packagesText();
    expect(Buffer.byteLength(text)).toBeGreaterThan(20 * 65536);
    await writeFile(join(dir, 'Packages'), text);
    await writeFile(join(dir, 'Packages.gz'), gzipSync(text));
    const read = async (path: string, compression: 'gz' | '') => {
      const out = [];
      for await (const p of parseControlStream(readIndexText(path, compression, path))) out.push(Object.fromEntries(p));
      return out;
    };
    const whole = parseControl(text).map((p) => Object.fromEntries(p));
    expect(whole).toHaveLength(4000);
    expect(await read(join(dir, 'Packages'), '')).toEqual(whole);
    expect(await read(join(dir, 'Packages.gz'), 'gz')).toEqual(whole);
    expect(whole[1234]!.Maintainer).toBe('Jörg Ünïcödé 1234 <j1234@example.invalid>');
    // and as lock reads it: every package, the same from both
    const origin = { uri: 'file:///x', suite: 'stable', component: 'main' };
    const packages = async (path: string, compression: 'gz' | '') => {
      const out = [];
      for await (const p of readPackagesIndex(readIndexText(path, compression, path), origin, path)) out.push(p);
      return out;
    };
    const plain = await packages(join(dir, 'Packages'), '');
    expect(plain.map((p) => p.name)).toEqual(whole.map((p) => p.Package));
    expect(plain).toEqual(await packages(join(dir, 'Packages.gz'), 'gz'));
  });
});
