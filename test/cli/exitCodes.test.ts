import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ToolError } from '../../src/errors.js';

// list's store reader throws what a bug would throw: not one of ferry's errors
vi.mock('../../src/store/listReleases.js', () => ({
  listReleases: async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'digest')");
  },
}));
const { main } = await import('../../src/cli/main.js');
const { runGit } = await import('../../src/sources/git/runGit.js');

describe('exit codes of failures ferry does not own', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it('an internal error exits 74, not 70 (resolution failed), and prints the stack', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // a folder that is there: a --store where nothing is is refused (71) before the reader runs
      expect(await main(['node', 'ferry', 'list', '--store', tmpdir()])).toBe(74);
      expect(String(stderr.mock.calls[0]?.[0])).toMatch(/^ferry: internal error: TypeError: Cannot read properties/);
    } finally {
      stderr.mockRestore();
    }
  });

  it('a missing tool is a ToolError (exit 73) naming the tool and its Debian package', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-no-tools-'));
    process.env.PATH = dir;
    try {
      const err = await runGit(['--version']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ToolError);
      expect(err).toMatchObject({ tool: 'git', debianPackage: 'git', exitCode: 73, message: 'git is not installed; install it (apt-get install git)' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
