import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployError, SpecError } from '../../src/errors.js';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { loadRelease, type Release } from '../../src/store/loadRelease.js';
import { planDeploy } from '../../src/deploy/planDeploy.js';
import { runDeploy } from '../../src/deploy/runDeploy.js';
import { stageArtifacts } from '../../src/deploy/stageArtifacts.js';
import { aptStep } from '../../src/deploy/steps/aptStep.js';
import { gitStep } from '../../src/deploy/steps/gitStep.js';
import { serviceStep } from '../../src/deploy/steps/serviceStep.js';
import { STEP_OPTIONS } from '../../src/specfile/stepOptions.js';
import type { StepContext } from '../../src/deploy/steps/types.js';
import { LocalTransport } from '../../src/deploy/transport/localTransport.js';
import { recordingLogger, runFerry as ferry } from './fixtures.js';
import { ferry as ferryWith } from '../helpers/cli.js';
import { type FixtureService, writeRelease } from './storeFixture.js';

/**
 * A signed bundle or an inventory written by someone hostile, deployed through the real plan and
 * deploy code to a host of the runner itself (transport local: the same scripts as over ssh).
 * Every payload tries to create the marker file; none may.
 */
describe('hostile templates, step options, inventory values and manifest strings', () => {
  let dir: string;
  let store: string;
  let root: string;
  let marker: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-'));
    store = join(dir, 'store');
    root = join(dir, 'host');
    marker = join(dir, 'pwned');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const js = () => `return process.mainModule.require('fs').writeFileSync('${marker}', 'x')`;
  const release = async (name: string, svc: Partial<FixtureService>) => {
    // a file, so the fixture writes the bundle folder
    writeRelease(store, { name, version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'readme.txt': 'x\n' }, ...svc } } });
    return loadRelease(store, `${name}@1`);
  };
  const inventory = (vars: Record<string, unknown> = {}) => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    const text = stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { transport: 'local', vars: { root, ferry_data_dir: '{{ root }}/var/lib/ferry', ...vars } } } });
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, text);
    return { file, inventory: parseInventory(text, file) };
  };
  const deploy = async (rel: Release, vars: Record<string, unknown> = {}) => {
    const { inventory: inv } = inventory(vars);
    return runDeploy({ release: rel, inventory: inv, hosts: inv.hosts, source: { push: true }, log: recordingLogger() });
  };

  it('a template that reaches for JavaScript is refused with a one-line error before any host is touched, and runs nothing', async () => {
    const rel = await release('ssti-template', {
      files: { 'app.conf.j2': `port {{ port | default(1) }}\n{{ range.constructor("${js()}")() }}\n` },
      configure: [{ template: { src: 'app.conf.j2', dest: '{{ root }}/etc/app.conf' } }],
    });
    // its options name a variable, so it is checked with each host's variables: before any host is touched
    const refused = deploy(rel);
    await expect(refused).rejects.toThrow(DeployError);
    await expect(refused).rejects.toThrow(/^host h1, service web, configure template: template files\/web\/app.conf.j2: cannot render \{\{ range.constructor\(.*: line 2: calling functions or methods is not supported[^\n]*$/);
    expect(existsSync(join(root, 'var/lib/ferry'))).toBe(false);
    expect(existsSync(join(root, 'etc/app.conf'))).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  it('a template with syntax ferry does not run is refused by plan, before any host is touched', async () => {
    const rel = await release('ssti-plan', {
      files: { 'app.conf.j2': `{% set x = range.constructor("${js()}") %}{{ x() }}\n` },
      configure: [{ template: { src: 'app.conf.j2', dest: join(root, 'etc/app.conf') } }],
    });
    const { inventory: inv } = inventory();
    await expect(planDeploy({ release: rel, inventory: inv, hosts: inv.hosts })).rejects.toThrow(
      /^bundle ssti-plan 1: services.web.configure\[0\]: template files\/web\/app.conf.j2: cannot render \{% set x = range.constructor\(.*: unsupported tag "set"; ferry templates know if\/elif\/else\/endif, for\/else\/endfor, raw\/endraw$/,
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('a step option that reaches for JavaScript is refused before any host is touched, also when it is only known per host', async () => {
    const parsedAway = await release('ssti-option', { configure: [{ command: { run: `echo {{ cycler.constructor("${js()}")() }}` } }] });
    await expect(deploy(parsedAway)).rejects.toThrow(SpecError);
    await expect(deploy(parsedAway)).rejects.toThrow(/^bundle ssti-option 1: services.web.configure\[0\].command option run: cannot render \{\{ cycler.constructor\(.*: calling functions or methods is not supported; use a filter: VALUE \| NAME\(ARGS\)$/);
    const perHost = await release('ssti-option2', { configure: [{ command: { run: 'echo ok', env: { X: '{{ constructor.constructor }}{{ __proto__ }}' } } }] });
    // rendered per host, and still before any host is touched: the run is refused (exit 72), not the host failed
    const refused = deploy(perHost);
    await expect(refused).rejects.toThrow(DeployError);
    await expect(refused).rejects.toThrow('host h1, service web, configure command option env.X: cannot render {{ constructor.constructor }}: constructor.constructor is an undefined value; define the variable in the inventory (host, group or top-level vars) or give a default: VALUE | default(...)');
    expect(existsSync(join(root, 'var/lib/ferry'))).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  it('an inventory value that reaches for JavaScript stops `ferry plan` and `ferry deploy` with exit 72 and one line', async () => {
    const rel = await release('ssti-inventory', { configure: [{ command: { run: 'true' } }] });
    const { file, inventory: inv } = inventory({ evil: `{{ joiner.constructor("${js()}")() }}` });
    await expect(planDeploy({ release: rel, inventory: inv, hosts: inv.hosts })).rejects.toThrow(DeployError);
    for (const verb of ['plan', 'deploy']) {
      const r = await ferry(verb, 'ssti-inventory@1', '--store', store, '--allow-local', '-i', file, '--push');
      expect(r.code).toBe(72);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^ferry: inventory .*inventory.yaml, host h1: vars.evil: cannot render \{\{ joiner.constructor/);
    }
    expect(existsSync(marker)).toBe(false);
  });

  const banner = `x; touch ${'$'}{M}; $(touch M) \`touch M\` 'single' "double" \\back\nsecond line & | > <`.replaceAll('M', '__MARKER__');
  it('command argv passes each rendered element as one argument, and `| quote` makes a value one word in run:', async () => {
    const value = banner.replaceAll('__MARKER__', marker);
    const rel = await release('argv', {
      configure: [
        { command: { argv: ['sh', '-c', 'printf "%s" "$1" > "$2"', 'sh', '{{ banner }}', '{{ root }}/argv.txt'] } },
        { command: { run: "printf '%s' {{ banner | quote }} > {{ root }}/quoted.txt" } },
      ],
    });
    const report = await deploy(rel, { banner: value });
    expect(report.hosts[0]!.error).toBeUndefined();
    expect(readFileSync(join(root, 'argv.txt'), 'utf8')).toBe(value);
    expect(readFileSync(join(root, 'quoted.txt'), 'utf8')).toBe(value);
    expect(existsSync(marker)).toBe(false);
  });

  it('command takes exactly one of run and argv', async () => {
    const rel = await release('argv-both', { configure: [{ command: { run: 'true', argv: ['true'] } }] });
    await expect(deploy(rel)).rejects.toThrow('give exactly one of run (shell text) and argv (a program and its arguments)');
  });

  it("a unit name in a health-check message is printed, not expanded by the host's shell", async () => {
    const systemctl = join(dir, 'systemctl');
    writeFileSync(systemctl, '#!/bin/sh\ncase "$1" in is-active|is-enabled) exit 1;; esac\nexit 0\n');
    chmodSync(systemctl, 0o755);
    const name = `web$(touch ${marker})\`touch ${marker}\``;
    // the schema refuses such a unit name at build, plan and deploy; the step's script must be safe regardless
    expect(STEP_OPTIONS.service.safeParse({ name }).success).toBe(false);
    inventory();
    const rel = await release('unit-name', {});
    const params = { name, systemctl, check: 'false', check_tries: 1, check_delay: 0, check_timeout: 30, state: 'started' as const, restart_when_changed: true, reload: false };
    await expect(serviceStep.run(params, { ...ctx(rel), stage: 'configure' })).rejects.toThrow(`health check of ${name} still failing after 1 tries (each stopped after 30 s): false`);
    expect(existsSync(marker)).toBe(false);
  });

  const ctx = (rel: Release): StepContext => ({
    host: 'h1', service: 'web', stage: 'stage', transport: new LocalTransport('h1'), release: rel, dataDir: join(root, 'data'), remoteBundle: join(root, 'data/bundle'), vars: {}, changedSoFar: false, timeoutMs: 60_000,
  });

  it('manifest strings that would break out of a host script are refused: entry paths, git commits, apt suites', async () => {
    inventory();
    const rel = await release('manifest-strings', {});
    const evilEntry = { path: `x\n@@FERRY_LIST\ntouch ${marker}\n`, size: 1, sha256: 'a'.repeat(64), kind: 'file' as const, services: ['web'] };
    for (const e of [evilEntry, { ...evilEntry, path: '../../outside' }, { ...evilEntry, path: 'ok', sha256: `$(touch ${marker})` }]) {
      await expect(stageArtifacts(ctx(rel), [e], { push: false, server: 'http://127.0.0.1:9' })).rejects.toThrow(/^host h1: refusing to stage /);
    }
    const withGit = { ...rel, manifest: { ...rel.manifest, entries: [{ ...evilEntry, path: 'git/app.bundle' }], artifacts: { git: { app: { path: 'git/app.bundle', commit: `abc1234$(touch ${marker})` } } } } };
    expect(gitStep.check!({ name: 'app', dest: '/srv/app' }, 'web', withGit)).toEqual(['git app: manifest.artifacts.git.app needs a path and commit ids of 7 to 64 hex digits']);
    const withApt = { ...rel, manifest: { ...rel.manifest, artifacts: { apt: { suite: 'bookworm main\ndeb [trusted=yes] http://127.0.0.1:9/ evil' } } } };
    expect(aptStep.check!({ packages: ['hello'] }, 'web', withApt)[0]).toMatch(/^apt: the bundle carries no usable apt repository/);
    expect(existsSync(marker)).toBe(false);
  });

  it('a template file or step option of more tags than any configuration has is refused by plan in one line (65), not parsed into hundreds of MiB: plan runs with a heap of 128 MiB', async () => {
    // a file of 400,000 tags of 7 bytes (2.8 MB, some 190 MiB of parse tree before this limit); an option
    // of one tag of 600,000 tokens (a manifest with more than one { or [ in 24 bytes is refused unread)
    const { file } = inventory({ x: 1 });
    for (const [name, svc, where] of [
      ['flood-template', { files: { 'app.conf.j2': '{{ x }}'.repeat(400_000) }, configure: [{ template: { src: 'app.conf.j2', dest: join(root, 'etc/app.conf') } }] }, 'services.web.configure\\[0\\]: template files/web/app.conf.j2'],
      ['flood-option', { configure: [{ command: { run: `echo {{ ${'x ~ '.repeat(300_000)}x }}` } }] }, 'services.web.configure\\[0\\].command option run'],
    ] as const) {
      await release(name, svc);
      const r = await ferryWith(['plan', `${name}@1`, '--store', store, '--allow-local', '-i', file], { env: { NODE_OPTIONS: '--max-old-space-size=128' } });
      expect(r.stderr.trim().split('\n'), name).toEqual([expect.stringMatching(new RegExp(`^ferry: bundle ${name} 1: ${where}: cannot render .*: the template holds more than 200000 tags and tokens, more than any configuration needs$`))]);
      expect(r.code, name).toBe(65);
    }
    expect(existsSync(join(root, 'etc/app.conf'))).toBe(false);
  });
});
