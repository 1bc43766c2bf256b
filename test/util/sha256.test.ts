import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../src/util/sha256.js';

describe('sha256File', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-sha256-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  // sizes around its 1 MiB read: empty, one byte, exactly one read, one byte over, several reads and a tail
  for (const size of [0, 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12_345]) {
    it(`hashes every byte of a ${size}-byte file, whatever the number of reads`, async () => {
      const data = randomBytes(size);
      const file = join(dir, `f${size}`);
      await writeFile(file, data);
      expect(await sha256File(file)).toEqual({ sha256: createHash('sha256').update(data).digest('hex'), size });
    });
  }

  it('fails with the file system error for a missing file', async () => {
    await expect(sha256File(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
