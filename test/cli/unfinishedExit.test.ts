import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, run } from '../helpers/cli.js';

/**
 * Node ends a process whose event loop has emptied with exit 0, even while the command still awaits a
 * promise nothing can settle any more: the work is left undone and reported as done. The test makes the
 * command's whole run such a promise (commander's parseAsync, patched before ferry loads, never settles and
 * holds nothing open), the shape of a wait on a stream or child that had already ended.
 */
describe('a command whose wait can never end', () => {
  let dir: string;
  let inject: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-unfinished-'));
    const commander = pathToFileURL(fileURLToPath(new URL('../../dist/util/commander.js', import.meta.url))).href;
    inject = join(dir, 'inject.mjs');
    await writeFile(inject, `import { Command } from ${JSON.stringify(commander)};\nCommand.prototype.parseAsync = () => new Promise(() => {});\n`);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is an internal error (exit 74, one line), not a success', async () => {
    const r = await run(process.execPath, ['--import', pathToFileURL(inject).href, FERRY_BIN, 'list', '--store', dir], { env: { FERRY_DEBUG: '' } });
    expect(r.code).toBe(74);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ferry: internal error: the command stopped with its work unfinished .*This is a bug in ferry/)]);
  });

  it('a command that finishes is not touched by the check', async () => {
    const r = await run(process.execPath, [FERRY_BIN, '--version'], { env: { FERRY_DEBUG: '' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });
});
