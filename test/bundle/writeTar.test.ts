import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTar, type TarFile } from '../../src/bundle/writeTar.js';
import { pattern } from '../helpers/pattern.js';

const K = 1024;
const MTIME = new Date('2026-11-25T00:00:00Z');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('writeTar packs files from disk, small ones (under one 1 MiB read) with one blocking read', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-writetar-${process.pid}-`));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function pack(name: string, files: TarFile[]): Promise<string> {
    const out = join(dir, `${name}.tar`);
    const stream = createWriteStream(out);
    await writeTar(stream, files, MTIME);
    stream.end();
    await finished(stream);
    return out;
  }

  it('writes every file byte for byte, whatever its size against the 1 MiB reads, checked by GNU tar', async () => {
    const sizes = [0, 1, 511, 512, 513, 64 * K, K * K - 1, K * K, K * K + 1, 3 * K * K + 12_345];
    const files: TarFile[] = [];
    for (const [i, size] of sizes.entries()) {
      const data = pattern(size, i + 1);
      const file = join(dir, `src-${i}`);
      await writeFile(file, data);
      files.push({ path: `files/e${i}-${size}.bin`, file, size, sha256: sha256(data) });
    }
    const tar = await pack('sizes', [{ path: 'manifest.json', data: Buffer.from('{}'), size: 2 }, ...files]);
    const out = join(dir, 'extracted');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xf', tar, '-C', out]);
    for (const [i, f] of files.entries()) expect(sha256(await readFile(join(out, f.path))), f.path).toBe(sha256(pattern(sizes[i]!, i + 1)));
    expect(await readFile(join(out, 'manifest.json'), 'utf8')).toBe('{}');
  });

  for (const [label, size] of [
    ['a small file', 3000],
    ['a large file', K * K + 5],
  ] as const) {
    it(`refuses ${label} whose bytes are not the digest the manifest records`, async () => {
      const file = join(dir, `damaged-${size}`);
      const data = pattern(size, 7);
      await writeFile(file, data);
      const wrong = sha256(Buffer.from('something else'));
      await expect(pack(`damaged-${size}`, [{ path: 'files/x', file, size, sha256: wrong }])).rejects.toThrow(/has sha256 [0-9a-f]{64}, but the manifest records .* for files\/x; the file was damaged or changed on disk/);
    });

    it(`refuses ${label} that grew or shrank after it was described`, async () => {
      const file = join(dir, `changed-${size}`);
      const data = pattern(size, 9);
      await writeFile(file, data);
      await appendFile(file, 'more');
      await expect(pack(`grew-${size}`, [{ path: 'files/x', file, size, sha256: sha256(data) }])).rejects.toThrow(/changed while being packed: expected \d+ bytes, read \d+/);
      await truncate(file, size - 1);
      await expect(pack(`shrank-${size}`, [{ path: 'files/x', file, size, sha256: sha256(data) }])).rejects.toThrow(/changed while being packed: expected \d+ bytes, read \d+/);
    });
  }

  it('reports a missing file by its path', async () => {
    await expect(pack('missing', [{ path: 'files/x', file: join(dir, 'nowhere'), size: 10 }])).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
