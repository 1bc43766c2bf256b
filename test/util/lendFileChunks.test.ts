import { randomBytes } from 'node:crypto';
import { mkdtemp, readlink, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lendFileChunks } from '../../src/util/lendFileChunks.js';

const CHUNK = 4096;

/** the files this process holds open, by path */
async function openFiles(): Promise<string[]> {
  const fds = await readdir('/proc/self/fd');
  const paths = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return paths;
}

describe('lendFileChunks', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-lend-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  // sizes around the read size: empty, one byte, exactly one read, one over, several reads and a tail
  for (const size of [0, 1, CHUNK, CHUNK + 1, 7 * CHUNK + 123]) {
    it(`lends every byte of a ${size}-byte file once, in order`, async () => {
      const data = randomBytes(size);
      const file = join(dir, `f${size}`);
      await writeFile(file, data);
      const copies: Buffer[] = [];
      for await (const chunk of lendFileChunks(file, { chunk: CHUNK })) copies.push(Buffer.from(chunk));
      expect(Buffer.concat(copies).equals(data)).toBe(true);
    });
  }

  it('keeps the previous chunk intact while the next one is used (the tar reader joins their bytes)', async () => {
    const data = randomBytes(20 * CHUNK + 7);
    const file = join(dir, 'held');
    await writeFile(file, data);
    let previous: Buffer | undefined;
    let at = 0;
    for await (const chunk of lendFileChunks(file, { chunk: CHUNK, ahead: 3 })) {
      // both views still hold their own bytes after the next read was issued
      if (previous) expect(previous.equals(data.subarray(at - previous.length, at))).toBe(true);
      expect(chunk.equals(data.subarray(at, at + chunk.length))).toBe(true);
      at += chunk.length;
      previous = chunk;
    }
    expect(at).toBe(data.length);
  });

  it('closes the file when the consumer stops early', async () => {
    const file = join(dir, 'early');
    await writeFile(file, randomBytes(10 * CHUNK));
    const chunks = lendFileChunks(file, { chunk: CHUNK });
    await chunks.next();
    expect(await openFiles()).toContain(file);
    await chunks.return(undefined);
    expect(await openFiles()).not.toContain(file);
  });

  it('fails with the file system error for a missing file', async () => {
    await expect(lendFileChunks(join(dir, 'missing')).next()).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
