import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, commandsFor, registerCommands } from '../../src/cli/commands.js';
import { ferry } from '../helpers/cli.js';
import { modulesLoadedBy as loadedBy, packagesIn } from '../helpers/loadedModules.js';

/** The commands README.md documents; the table must keep registering every one of them. */
const DOCUMENTED = ['key', 'lock', 'build', 'sign', 'inspect', 'verify', 'import', 'list', 'serve', 'extract', 'deploy', 'plan', 'rollback', 'status', 'split', 'diff', 'gc', 'audit', 'sbom', 'mirror'];

async function registered(): Promise<Command> {
  const program = new Command('ferry');
  await registerCommands(program, ['--help']);
  return program;
}

/**
 * A command's modules load when it runs, not at start (issue 20: every command used to load all of them,
 * openpgp, zod, undici and tar included, even for --version). Help is built from the command table, so it
 * must still name every command and every option.
 */
describe('ferry start-up', () => {
  const heavyFolders = (urls: string[]) => urls.filter((u) => /\/dist\/(bundle|build|fetch|pgp|sources|specfile|store)\//.test(u) || /\/dist\/serve\/createServer\.js$/.test(u));

  /** The command files (src/cli/NAME.ts of the table) among the loaded modules. */
  const commandFilesIn = (urls: string[]) => urls.flatMap((u) => /\/dist\/cli\/([^/]+)\.js$/.exec(u)?.[1] ?? []).filter((n) => Object.hasOwn(COMMANDS, n));

  it('ferry --version loads main, the command table, errors, the version and commander (bundled, util/commander.ts): no command file, no package', async () => {
    const loaded = await loadedBy(['--version']);
    const ours = loaded.flatMap((u) => /\/(dist\/.+|bin\/.+)$/.exec(u)?.[1] ?? []);
    expect(new Set(ours)).toEqual(new Set(['bin/ferry.js', 'dist/cli/v8Flags.js', 'dist/cli/main.js', 'dist/cli/commands.js', 'dist/errors.js', 'dist/version.js', 'dist/util/escapeText.js', 'dist/util/commander.js']));
    expect(packagesIn(loaded)).toEqual([]);
  });

  it("ferry NAME --help loads NAME's command file and no other's; no action module, no package (commander is bundled)", async () => {
    const names = Object.keys(COMMANDS);
    const loads = await Promise.all(names.map((name) => loadedBy([name, '--help'])));
    names.forEach((name, i) => {
      expect(commandFilesIn(loads[i]!), name).toEqual([name]);
      expect(packagesIn(loads[i]!), name).toEqual([]);
      expect(heavyFolders(loads[i]!), name).toEqual([]);
    });
  });

  it('registers one command for a command, none for --version alone, every one to list them', () => {
    const all = Object.keys(COMMANDS);
    expect(commandsFor(['verify', 'x.ferry'])).toEqual(['verify']);
    expect(commandsFor(['--version'])).toEqual([]);
    expect(commandsFor(['-V'])).toEqual([]);
    for (const args of [[], ['--help'], ['help', 'verify'], ['verfy'], ['--version', 'verify'], ['constructor'], ['toString']]) expect(commandsFor(args), args.join(' ')).toEqual(all);
  });

  it('ferry with a mistyped command still suggests the right one (every command is registered to say so)', async () => {
    const r = await ferry(['verfy']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/unknown command 'verfy'[\s\S]*verify/);
  });

  it('the command table registers every documented command', async () => {
    expect((await registered()).commands.map((c) => c.name()).sort()).toEqual([...DOCUMENTED].sort());
  });

  it('ferry --help lists every command with its description', async () => {
    const r = await ferry(['--help']);
    expect(r.code).toBe(0);
    for (const c of (await registered()).commands) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c.name()}\\b`, 'm'));
      expect(r.stdout.replace(/\s+/g, ' ')).toContain(c.description().slice(0, 40));
    }
  });

  it('ferry COMMAND --help lists every option of that command', async () => {
    const program = await registered();
    const leaves = program.commands.flatMap((c) => (c.commands.length ? c.commands.map((s) => ({ args: [c.name(), s.name()], cmd: s })) : [{ args: [c.name()], cmd: c }]));
    const helps = await Promise.all(leaves.map(({ args }) => ferry([...args, '--help'])));
    leaves.forEach(({ args, cmd }, i) => {
      expect(helps[i]!.code, args.join(' ')).toBe(0);
      expect(cmd.options.length, args.join(' ')).toBeGreaterThan(0);
      for (const o of cmd.options) expect(helps[i]!.stdout, `${args.join(' ')} --help`).toContain(o.flags);
    });
  });

  /**
   * Before the first download a lock or build loads only what reading the spec needs (issue 20: ~0.35 s
   * before an image build's first request): yaml as one bundled module (util/yaml.ts) instead of its 74
   * files, no step or template checker for a spec without steps, and for `ferry lock` nothing of packing
   * (manifest, SBOM, differential), which a build loads once it has collected.
   */
  describe('a spec without steps', () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ferry-startup-spec-'));
      await mkdir(join(dir, 'files'));
      await writeFile(join(dir, 'files/a.txt'), 'a\n');
      const key = await ferry(['key', 'generate', '--name', 'startup', '--out', join(dir, 'team')]);
      expect(key.code, key.stderr).toBe(0);
      await writeFile(join(dir, 'app.yaml'), 'name: app\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      files:\n        - src: files/a.txt\n');
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));
    const notBeforeCollecting = (u: string) => /\/dist\/(template\/|specfile\/validateSteps\.js|bundle\/manifest\.js|bundle\/planDifferential\.js|sbom\/|build\/writeSbomEntry\.js)/.test(u);

    it('ferry lock loads yaml as one module, no step or template checker, nothing of packing', async () => {
      const loaded = await loadedBy(['lock', join(dir, 'app.yaml'), '--cache', join(dir, 'cache-lock')]);
      expect(loaded.filter((u) => u.includes('/node_modules/yaml/'))).toEqual([]);
      expect(loaded.filter((u) => u.endsWith('/dist/util/yaml.js')).length).toBeGreaterThan(0);
      expect(loaded.filter(notBeforeCollecting)).toEqual([]);
    });

    it('ferry build loads no step or template checker for it', async () => {
      const loaded = await loadedBy(['build', join(dir, 'app.yaml'), '--key', join(dir, 'team.secret.asc'), '--out', join(dir, 'out'), '--cache', join(dir, 'cache-build')]);
      expect(loaded.filter((u) => /\/dist\/(template\/|specfile\/validateSteps\.js)/.test(u))).toEqual([]);
    });

    it('a spec with a mistyped step is still refused by lock and build, in one line (the checker loads for it)', async () => {
      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, 'name: app\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  web:\n    version: "1"\n    groups: [web]\n    install:\n      - templat: { src: a.txt }\n');
      for (const args of [['lock', bad], ['build', bad, '--key', join(dir, 'team.secret.asc'), '--out', join(dir, 'out-bad')]]) {
        const r = await ferry([...args, '--cache', join(dir, 'cache-bad')]);
        expect(r.code, args[0]).toBe(65);
        expect(r.stderr, args[0]).toMatch(/^ferry: .*services\.web\.install\[0\]: unknown step kind "templat"[^\n]*\n$/);
      }
    });
  });
});
