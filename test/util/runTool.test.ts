import { describe, expect, it } from 'vitest';
import { ToolError } from '../../src/errors.js';
import { DEFAULT_MAX_OUTPUT, runTool } from '../../src/util/runTool.js';
import { BundleFormatError } from '../../src/errors.js';

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

  it('stops a program that prints more than 64 MiB by default: killed, one-line ToolError, nothing returned', async () => {
    // `head` prints 1 MiB past the bound, and would exit 0 with all of it held
    const err = await runTool('head', ['-c', String(DEFAULT_MAX_OUTPUT + (1 << 20)), '/dev/zero'], { doing: 'printing zeros' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).message).toBe(`head failed: printing zeros wrote more than ${DEFAULT_MAX_OUTPUT} bytes of output; ferry stopped it there`);
    expect(DEFAULT_MAX_OUTPUT).toBe(64 << 20);
  });

  it('kills a program printing without end past the per-call bound, with the caller\'s kind of error', async () => {
    const err = await runTool('yes', ['ferry'], { maxOutput: 1 << 20, tooMuchOutput: (limit) => new BundleFormatError(`too much: ${limit}`) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleFormatError);
    expect(err).toMatchObject({ exitCode: 68, message: `too much: ${1 << 20}` });
  });

  it('stops a program whose child holds the output open, printing without end', async () => {
    const err = await runTool('sh', ['-c', 'yes ferry; exit 0'], { maxOutput: 1 << 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).message).toMatch(/^sh failed: sh -c yes ferry; exit 0 wrote more than 1048576 bytes of output; ferry stopped it there$/);
  });

  it('still returns output under the bound whole', async () => {
    expect((await runTool('head', ['-c', '1000', '/dev/zero'], { maxOutput: 1000 })).length).toBe(1000);
  });
});
