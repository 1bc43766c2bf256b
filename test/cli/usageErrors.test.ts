import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';

/** A usage error is refused like everything else: one `ferry: …` line and exit 64, not the command's whole help. */
describe('usage errors are one line, exit 64', () => {
  it.each([
    [['gc', '--store', '/nonexistent'], "ferry: required option '--keep <n>' not specified (--help lists the options)"],
    [['deploy', 'app@1'], "ferry: required option '-i, --inventory <file>' not specified (--help lists the options)"],
    [['verify'], "ferry: missing required argument 'bundle' (--help lists the options)"],
    [['no-such-command'], "ferry: unknown command 'no-such-command' (--help lists the options)"],
    [['list', '--no-such-option'], "ferry: unknown option '--no-such-option' (--help lists the options)"],
  ])('ferry %j', async (args, line) => {
    const r = await ferry(args);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.stdout).toBe('');
  });

  it('--help still prints the help, exit 0', async () => {
    const r = await ferry(['gc', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: ferry gc \[options\]/);
  });

  it("every command's --help ends with an example", async () => {
    const top = await ferry(['--help']);
    const commands = [...top.stdout.slice(top.stdout.indexOf('Commands:')).matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThan(15);
    const without: string[] = [];
    for (const c of commands) {
      const r = await ferry([c, '--help']);
      if (r.code !== 0 || !/\nExamples?:\n {2}ferry /.test(r.stdout)) without.push(c);
    }
    expect(without).toEqual([]);
  });

  it('a spec file that is not there (or a folder): build and lock exit 64 with one line, as README says of missing files, nothing written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-usage-spec-'));
    try {
      expect((await ferry(['key', 'generate', '--name', 't', '--email', 't@ferry.invalid', '--out', join(dir, 'k')])).code).toBe(0);
      mkdirSync(join(dir, 'folder.yaml'));
      for (const [spec, code] of [[join(dir, 'nosuch.yaml'), 'ENOENT'], [join(dir, 'folder.yaml'), 'EISDIR']] as const) {
        for (const args of [['build', spec, '--key', join(dir, 'k.secret.asc'), '--out', join(dir, 'out')], ['lock', spec]]) {
          const r = await ferry([...args, '--cache', join(dir, 'cache')]);
          // was 65, the code of a spec that was read and does not match its schema
          expect(r.stderr, args.join(' ')).toBe(`ferry: cannot read spec ${spec}: ${code}\n`);
          expect(r.code, args.join(' ')).toBe(64);
          expect(r.stdout).toBe('');
        }
      }
      expect(existsSync(join(dir, 'out'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
