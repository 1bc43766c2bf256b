import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/errors.js';
import { readWheelMetadata } from '../../src/sources/python/readWheelMetadata.js';
import { buildWheels } from './fixtures.js';

const METADATA = 'Metadata-Version: 2.1\nName: odd\nVersion: 1.0\nRequires-Dist: idna>=3\n';

/**
 * A zip written by Python's zipfile: `entries` in this order, each [name, text or {random: bytes}, method],
 * method 0 (stored) or 8 (deflate).
 */
function writeZip(path: string, entries: [string, string | { random: number }, 0 | 8][]): void {
  const script = `
import json, os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for name, body, method in json.load(sys.stdin):
        data = os.urandom(body['random']) if isinstance(body, dict) else body.encode()
        z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data, compress_type=method)
`;
  execFileSync('python3', ['-c', script, path], { input: JSON.stringify(entries) });
}

async function refusal(path: string): Promise<Error> {
  const err = await readWheelMetadata(path, 'odd-1.0-py3-none-any.whl').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(IntegrityError);
  return err as Error;
}

describe('reading METADATA out of a wheel', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-wheel-metadata-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads a wheel made by the fixture builder, small or larger than one 128 KiB read', async () => {
    const names = buildWheels(dir, [
      { name: 'demo-pkg', version: '2.1', requires: ['idna>=3'], requires_python: '>=3.9', files: { 'demo_pkg/__init__.py': 'X = 1\n'.repeat(50) } },
      { name: 'big-pkg', version: '2.1', requires: ['idna>=3'], requires_python: '>=3.9', files: { 'big_pkg/data.py': `D = ${JSON.stringify(randomBytes(400_000).toString('base64'))}\n` } },
    ]);
    for (const name of names) {
      const text = await readWheelMetadata(join(dir, name), name);
      expect(text).toMatch(/^Version: 2\.1$/m);
      expect(text).toMatch(/^Requires-Dist: idna>=3$/m);
      expect(text).toMatch(/^Requires-Python: >=3\.9$/m);
    }
  });

  it('finds METADATA far from the end of the file and behind a central directory larger than one read', async () => {
    // METADATA first, then 1 MiB that does not compress, then 3,000 entries with long names (~300 KiB of directory)
    const many: [string, string, 8][] = Array.from({ length: 3000 }, (_, i) => [`odd/${'long-name-'.repeat(6)}${i}.py`, `X = ${i}\n`, 8]);
    for (const method of [8, 0] as const) {
      const path = join(dir, `far-${method}.whl`);
      writeZip(path, [['odd-1.0.dist-info/METADATA', METADATA, method], ['odd/blob.bin', { random: 1 << 20 }, 0], ...many]);
      expect(await readWheelMetadata(path, 'odd')).toBe(METADATA);
    }
  });

  it('refuses a file that is not a zip, naming it', async () => {
    const bad = join(dir, 'bad-1.0-py3-none-any.whl');
    await writeFile(bad, Buffer.alloc(3000, 0x41));
    const err = await readWheelMetadata(bad, 'bad-1.0-py3-none-any.whl').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(/^bad-1\.0-py3-none-any\.whl: not a readable wheel \(zip\)/);
  });

  it('refuses a wheel without METADATA, with two of them, or with one bigger than 16 MiB', async () => {
    const none = join(dir, 'none.whl');
    writeZip(none, [['odd/__init__.py', 'X = 1\n', 8]]);
    expect((await refusal(none)).message).toMatch(/has no NAME-VERSION\.dist-info\/METADATA/);
    const two = join(dir, 'two.whl');
    writeZip(two, [['odd-1.0.dist-info/METADATA', METADATA, 8], ['other-1.0.dist-info/METADATA', METADATA, 8]]);
    expect((await refusal(two)).message).toMatch(/not a readable wheel \(zip\): 2 \.dist-info\/METADATA files/);
    const huge = join(dir, 'huge.whl');
    writeZip(huge, [['odd-1.0.dist-info/METADATA', 'Name: odd\n'.repeat(1_700_000), 8]]);
    expect((await refusal(huge)).message).toMatch(/METADATA is 17000000 bytes; refusing more than 16777216/);
  });

  it('refuses a wheel cut short, a foreign compression method, and a directory entry that lies about the size', async () => {
    const good = join(dir, 'good.whl');
    writeZip(good, [['odd-1.0.dist-info/METADATA', METADATA, 8], ['odd/blob.bin', { random: 300_000 }, 0]]);
    const bytes = readFileSync(good);
    expect(await readWheelMetadata(good, 'odd')).toBe(METADATA);

    // the central directory is gone
    const cut = join(dir, 'cut.whl');
    await writeFile(cut, bytes.subarray(0, 200_000));
    expect((await refusal(cut)).message).toMatch(/^odd-1\.0-py3-none-any\.whl: not a readable wheel \(zip\): /);

    // the central directory's METADATA entry: signature PK\1\2, method at +10, uncompressed size at +24
    const central = bytes.indexOf(Buffer.from('504b0102', 'hex'));
    expect(bytes.subarray(central + 46, central + 46 + 26).toString()).toBe('odd-1.0.dist-info/METADATA');
    const bzip = Buffer.from(bytes);
    bzip.writeUInt16LE(12, central + 10);
    await writeFile(join(dir, 'bzip.whl'), bzip);
    expect((await refusal(join(dir, 'bzip.whl'))).message).toMatch(/uses zip compression method 12; a wheel uses stored \(0\) or deflate \(8\)/);

    const lying = Buffer.from(bytes);
    lying.writeUInt32LE(METADATA.length + 5, central + 24);
    await writeFile(join(dir, 'lying.whl'), lying);
    expect((await refusal(join(dir, 'lying.whl'))).message).toMatch(new RegExp(`METADATA holds ${METADATA.length} bytes, its directory entry says ${METADATA.length + 5}`));
  });
});
