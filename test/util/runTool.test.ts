import { describe, expect, it } from 'vitest';
import { ToolError } from '../../src/errors.js';
import { runTool } from '../../src/util/runTool.js';

describe('runTool: the one way ferry runs an external program', () => {
  it('feeds its stdin and returns its stdout', async () => {
    expect((await runTool('tr', ['a-z', 'A-Z'], { input: Buffer.from('ferry\n') })).toString()).toBe('FERRY\n');
  });

  it('turns a failing exit into a one-line ToolError (exit 73) naming the tool, what it did and its last stderr line', async () => {
    const err = await runTool('sh', ['-c', 'echo first >&2; echo "the last words" >&2; exit 3'], { doing: 'saying goodbye' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(err).toMatchObject({ tool: 'sh', exitCode: 73, status: 3, missing: false, message: 'sh failed: saying goodbye (exit 3): the last words' });
    expect((err as ToolError).stderr).toBe('first\nthe last words\n');
  });

  it('names the Debian package of a tool that is not installed', async () => {
    const err = await runTool('ferry-no-such-tool', [], { debianPackage: 'ferry-tools', hint: 'or pick another' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ tool: 'ferry-no-such-tool', missing: true, message: 'ferry-no-such-tool is not installed; install it (apt-get install ferry-tools) or pick another' });
  });
});
