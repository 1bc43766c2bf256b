import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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

  it('hashes many files at once, each result its own (they run on several threads)', async () => {
    const files = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const data = randomBytes(1000 + i * 70_000);
        const file = join(dir, `many-${i}`);
        await writeFile(file, data);
        return { file, expected: { sha256: createHash('sha256').update(data).digest('hex'), size: data.length } };
      }),
    );
    const got = await Promise.all(files.map((f) => sha256File(f.file)));
    expect(got).toEqual(files.map((f) => f.expected));
  });

  it('lets the process exit by itself once the hashing is done (the threads do not hold it open)', async () => {
    const file = join(dir, 'exit');
    await writeFile(file, 'x');
    // the built module, in a process of its own: a thread left holding it open would hang it here
    const dist = pathToFileURL(join(import.meta.dirname, '../../dist/util/sha256.js')).href;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const { sha256File } = await import(${JSON.stringify(dist)}); console.log((await sha256File(${JSON.stringify(file)})).size);`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1\n');
    expect(r.status).toBe(0);
  });

  it('fails with the file system error for a missing file', async () => {
    await expect(sha256File(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
