import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scriptOnStdin } from '../../src/deploy/transport/scriptOnStdin.js';
import { spawnCommand } from '../../src/deploy/transport/spawnCommand.js';

describe('a script sent on standard input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-stdin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs with the rest of stdin as its own input, and keeps its command line free of the script', async () => {
    const { command, stdin } = scriptOnStdin('set -e\nread -r first\necho "got $first"\ncat\nexit 255', 'one\ntwo\n');
    expect(command).not.toContain('got');
    const r = await spawnCommand('/bin/sh', ['-c', command], { stdin });
    expect(r.stdout).toBe('got one\ntwo\n');
    // 255 is ssh's own failure code (retried); a script's 255 becomes 254
    expect(r.code).toBe(254);
  });

  it('runs nothing of a script that did not arrive whole', async () => {
    const marker = join(dir, 'ran');
    const { command, stdin } = scriptOnStdin(`touch ${marker}\necho more`);
    const cut = (stdin as Buffer).subarray(0, (stdin as Buffer).length - 10);
    const r = await spawnCommand('/bin/sh', ['-c', command], { stdin: cut });
    expect(r.code).toBe(254);
    expect(r.stderr).toContain('ferry: the script did not arrive whole');
    expect(existsSync(marker)).toBe(false);
  });
});
