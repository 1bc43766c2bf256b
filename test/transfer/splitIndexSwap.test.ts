import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// The index is swapped on the media right after ferry first touches it by path (a stat, an open or a read):
// what ferry checked must be what it reads. Deterministic: the swap happens inside the file-system call,
// after the real one returned.
const swap: { path?: string; with?: string } = {};
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const after =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const result = await fn(...args);
      if (swap.path !== undefined && args[0] === swap.path && swap.with !== undefined) {
        renameSync(swap.with, swap.path);
        swap.with = undefined;
      }
      return result;
    };
  return { ...real, default: real, stat: after(real.stat), open: after(real.open), readFile: after(real.readFile) };
});

const { readSplitIndex } = await import('../../src/bundle/splitIndex.js');

describe('a split index swapped between a check and a read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-split-swap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is read from the file that was checked, not from what replaced it by path', async () => {
    const sha = 'a'.repeat(64);
    const index = { format: 'ferry-split/1', bundle: 'app-1.0.0.ferry', size: 10, sha256: sha, digest: sha, name: 'app', version: '1.0.0', volumes: [{ file: 'app-1.0.0.ferry.001', size: 10, sha256: sha }] };
    const path = join(dir, 'app-1.0.0.ferry.index.json');
    writeFileSync(path, JSON.stringify(index));
    // 2 MiB of nested arrays: what the size check refuses, had it been checked
    const huge = join(dir, 'huge');
    writeFileSync(huge, '['.repeat(1 << 20) + ']'.repeat(1 << 20));
    Object.assign(swap, { path, with: huge });
    expect(await readSplitIndex(path)).toEqual(index);
    // the swap did happen: the path now holds the huge file, which is refused by its size
    expect(swap.with).toBeUndefined();
    await expect(readSplitIndex(path)).rejects.toThrow(/: 2097152 bytes, larger than any split index \(at most 1048576\): not a ferry split index$/);
  });
});
