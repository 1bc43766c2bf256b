import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Header, Pax } from 'tar';
import { describe, expect, it } from 'vitest';
import { decodeTarHeader } from '../../src/bundle/decodeTarHeader.js';
import { BundleHeaderEncoder, encodeBundleHeader, encodeTarHeader, type TarHeader } from '../../src/bundle/encodeTarHeader.js';

/** pax header (when any) and ustar header of one entry, as one buffer */
function encode(h: TarHeader, opts?: { paxSize?: boolean }): Buffer {
  const block = Buffer.alloc(512);
  const pax = encodeTarHeader(h, block, opts);
  return pax ? Buffer.concat([pax, block]) : block;
}

/** the same entry as node-tar's Header and Pax wrote it for packDirectory before encodeTarHeader */
function nodeTar(h: TarHeader): Buffer {
  const block = Buffer.alloc(512);
  const mtime = new Date(h.mtime * 1000);
  const data = { path: h.path, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, size: h.size, mtime, uname: '', gname: '', linkpath: h.linkpath, devmaj: h.devmajor, devmin: h.devminor };
  if (!new Header(data).encode(block)) return block;
  const pax = new Pax({ path: h.path, linkpath: h.linkpath || undefined, size: h.size, uid: h.uid, gid: h.gid, mtime }).encode();
  return Buffer.concat([pax, block]);
}

/** an archive of entries (regular files get their bytes), ended as tar ends one */
function archive(entries: Array<{ header: TarHeader; data?: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(encode(e.header));
    if (e.data) parts.push(e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const file = (path: string, data: Buffer, more: Partial<TarHeader> = {}) => ({
  header: { path, type: 'File' as const, mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 1764028800, ...more },
  data,
});

describe('encodeTarHeader', () => {
  it('writes the bytes node-tar wrote before, for any path, owner, mode, size, time and type (so packs stay the same)', () => {
    // short names, names around ustar's 100-byte name field, and any Unicode
    const component = fc.oneof(fc.stringMatching(/^[a-z0-9._-]{1,40}$/), fc.stringMatching(/^[a-z]{95,105}$/), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..'));
    const path = fc.array(component, { minLength: 1, maxLength: 12 }).map((parts) => `./${parts.join('/')}`);
    const entry = fc.record({
      path,
      type: fc.constantFrom('File', 'Directory', 'SymbolicLink', 'Link', 'CharacterDevice', 'BlockDevice', 'FIFO') as fc.Arbitrary<TarHeader['type']>,
      mode: fc.integer({ min: 0, max: 0o7777 }),
      uid: fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
      gid: fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
      size: fc.oneof(fc.integer({ min: 0, max: 1 << 20 }), fc.integer({ min: 0, max: 2 ** 40 })),
      mtime: fc.integer({ min: -(2 ** 34), max: 2 ** 34 }),
      link: fc.option(path, { nil: undefined }),
      dev: fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 2 ** 20 - 1 })),
    });
    fc.assert(
      fc.property(entry, (e) => {
        const h: TarHeader = { path: e.type === 'Directory' ? `${e.path}/` : e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, mtime: e.mtime };
        if (e.type === 'SymbolicLink' || e.type === 'Link') h.linkpath = e.link ?? 'target';
        if (e.type === 'CharacterDevice' || e.type === 'BlockDevice') [h.devmajor, h.devminor] = e.dev;
        expect(encode(h).equals(nodeTar(h))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips through GNU tar: long names and link targets by pax, UTF-8 names, owners, modes and times', () => {
    const deep = `./${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(60)}/${'f'.repeat(120)}`;
    const utf8 = './ünïcödé/名前-ファイル.conf';
    const link = `../${'up/'.repeat(50)}target`;
    const tar = archive([
      { header: { path: './', type: 'Directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1764028800 } },
      file(deep, Buffer.from('deep\n')),
      file(utf8, Buffer.from('utf-8\n'), { mode: 0o4755, uid: 3000000, gid: 70 }),
      file('./x'.padEnd(100, 'x'), Buffer.from('exactly 100 bytes of path\n')),
      { header: { path: './long-link', type: 'SymbolicLink', mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 1764028800, linkpath: link } },
      { header: { path: './null', type: 'CharacterDevice', mode: 0o666, uid: 0, gid: 0, size: 0, mtime: 1764028800, devmajor: 1, devminor: 3 } },
    ]);
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', '-'], { input: tar, env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } }).toString().trim().split('\n');
    expect(listing).toEqual([
      'drwxr-xr-x 0/0               0 2025-11-25 00:00:00 ./',
      `-rw-r--r-- 0/0               5 2025-11-25 00:00:00 ${deep}`,
      `-rwsr-xr-x 3000000/70        6 2025-11-25 00:00:00 ${utf8}`,
      `-rw-r--r-- 0/0              26 2025-11-25 00:00:00 ${'./x'.padEnd(100, 'x')}`,
      `lrwxrwxrwx 0/0               0 2025-11-25 00:00:00 ./long-link -> ${link}`,
      'crw-rw-rw- 0/0             1,3 2025-11-25 00:00:00 ./null',
    ]);
    // and the contents come back as written
    expect(execFileSync('tar', ['-xOf', '-', utf8], { input: tar }).toString()).toBe('utf-8\n');
  });

  it('writes a size over 8 GiB in base-256 with a pax record, which GNU tar and decodeTarHeader read back', () => {
    const size = 9 * 2 ** 30 + 7;
    const header: TarHeader = { path: './big.img', type: 'File', mode: 0o600, uid: 0, gid: 0, size, mtime: 0 };
    const block = Buffer.alloc(512);
    const pax = encodeTarHeader(header, block)!;
    expect(pax.toString('utf8', 512).replace(/\0+$/, '')).toBe(`18 path=./big.img\n8 gid=0\n11 mtime=0\n19 size=${size}\n8 uid=0\n`);
    expect(decodeTarHeader(block)).toEqual({ path: './big.img', type: 'File', size, mode: 0o600, cksumValid: true });
    // a sparse archive file: GNU tar seeks over the data it lists
    const dir = mkdtempSync(join(tmpdir(), `ferry-tarheader-${process.pid}-`));
    const path = join(dir, 'big.tar');
    const fd = openSync(path, 'w');
    writeSync(fd, Buffer.concat([pax, block]), 0, pax.length + 512, 0);
    writeSync(fd, Buffer.alloc(1024), 0, 1024, pax.length + 512 + Math.ceil(size / 512) * 512);
    closeSync(fd);
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', path], { env: { ...process.env, TZ: 'UTC' } }).toString().trim();
    expect(listing).toBe(`-rw------- 0/0      ${size} 1970-01-01 00:00 ./big.img`);
  });

  it('gives decodeTarHeader the path through the ustar prefix when it splits, and a valid checksum for every type', () => {
    const path = `apt/pool/main/${'p'.repeat(120)}/${'n'.repeat(90)}.deb`;
    const block = Buffer.alloc(512);
    expect(encodeTarHeader({ path, type: 'File', mode: 0o644, uid: 0, gid: 0, size: 1234567, mtime: 0 }, block)).toBeUndefined();
    expect(decodeTarHeader(block)).toEqual({ path, type: 'File', size: 1234567, mode: 0o644, cksumValid: true });
    for (const type of ['Directory', 'SymbolicLink', 'Link', 'CharacterDevice', 'BlockDevice', 'FIFO'] as const) {
      encodeTarHeader({ path: './e', type, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, linkpath: type.endsWith('Link') ? './t' : undefined }, block);
      expect(decodeTarHeader(block)).toMatchObject({ path: './e', type, cksumValid: true });
    }
  });

  it('records the path the bundle writer asks for without a size record', () => {
    const path = `files/${'a'.repeat(200)}`;
    const block = Buffer.alloc(512);
    const pax = encodeTarHeader({ path, type: 'File', mode: 0o644, uid: 0, gid: 0, size: 5, mtime: 1 }, block, { paxSize: false })!;
    expect(pax.toString('utf8', 512).replace(/\0+$/, '')).toBe(`216 path=${path}\n8 gid=0\n11 mtime=1\n8 uid=0\n`);
  });
});

describe('BundleHeaderEncoder (the bundle writer\'s headers, cheaply: the readers encode every entry\'s again)', () => {
  it('gives the bytes encodeBundleHeader gives, for any path, size and mtime, in ustar and with pax', () => {
    const path = fc.oneof(
      fc.stringMatching(/^files\/[a-z0-9._-]{1,30}\/[a-z0-9._-]{1,80}$/),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }),
      fc.string({ unit: 'binary-ascii', minLength: 95, maxLength: 105 }),
    );
    const size = fc.oneof(fc.integer({ min: 0, max: 1 << 20 }), fc.integer({ min: 0, max: 2 ** 40 }));
    // whole seconds around the octal range's ends, fractions (an epoch with milliseconds)
    const mtime = fc.oneof(fc.integer({ min: 0, max: 2 ** 34 }), fc.integer({ min: 0, max: 2 ** 36 }).map((n) => n / 1000), fc.constantFrom(0, 0o77777777777, 0o77777777777 + 1, 1795478400.5));
    fc.assert(
      fc.property(mtime, fc.array(fc.tuple(path, size), { minLength: 1, maxLength: 5 }), (seconds, entries) => {
        const encoder = new BundleHeaderEncoder(seconds);
        for (const [p, n] of entries) {
          const fast = Buffer.alloc(512, 0xee);
          const slow = Buffer.alloc(512);
          const fastPax = encoder.encode(p, n, fast);
          const slowPax = encodeBundleHeader(p, n, seconds, slow);
          expect(fast.equals(slow)).toBe(true);
          expect(fastPax === undefined ? undefined : fastPax.toString('hex')).toBe(slowPax === undefined ? undefined : slowPax.toString('hex'));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
