import { tmpdir } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { StoreError } from '../../src/errors.js';

// a message built from input that still holds raw newlines (and a terminal escape)
vi.mock('../../src/store/listReleases.js', () => ({
  listReleases: async () => {
    throw new StoreError('refs/app/1: cannot read\nferry: deploy complete: 3 of 3 hosts OK\x1b[2J');
  },
}));
const { main } = await import('../../src/cli/main.js');

describe('the last safety net of a refusal', () => {
  it('prints any FerryError as exactly one line, its newlines and control characters escaped, with its exit code', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // a folder that is there: a --store where nothing is is refused before the (mocked) reader runs
      expect(await main(['node', 'ferry', 'list', '--store', tmpdir()])).toBe(71);
      expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual(['ferry: refs/app/1: cannot read\\nferry: deploy complete: 3 of 3 hosts OK\\x1b[2J\n']);
    } finally {
      stderr.mockRestore();
    }
  });
});
