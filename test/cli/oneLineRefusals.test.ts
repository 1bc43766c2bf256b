import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, type RunResult } from '../helpers/cli.js';
import { craftTar } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { writeRelease } from '../deploy/storeFixture.js';
import { signDetached } from '../../src/pgp/sign.js';

const KEY = { path: 'keys/bundle.asc', content: 'key\n', kind: 'key' as const, services: [] };

/**
 * Bundles, manifests, locks, inventories and split indexes are hostile input, and every refusal ferry
 * prints is one line (`ferry: …`) with its exit code: text in the input cannot end that line and start
 * one of its own under ferry's name ("ferry: deploy complete: 3 of 3 hosts OK"), whether it is a key,
 * a value, or a snippet a JSON or YAML parser quotes.
 */
describe('every refusal is one line, whatever the input holds', () => {
  let dir: string;
  let store: string;
  let key: Awaited<ReturnType<typeof writeKey>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-one-line-'));
    store = join(dir, 'store');
    key = await writeKey(dir, 'team');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** exit `code`, exactly one line on stderr matching `pattern`, and no line of either stream starts with `forged` */
  function expectOneLine(r: RunResult, code: number, pattern: RegExp, forged: string) {
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr.endsWith('\n'), r.stderr).toBe(true);
    expect(r.stderr.slice(0, -1).split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    for (const line of `${r.stdout}\n${r.stderr}`.split('\n')) expect(line.startsWith(forged), r.stderr).toBe(false);
  }

  function inventory(name: string, host: Record<string, unknown>): string {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { address: '127.0.0.1', port: 1, ...host } } }));
    return file;
  }

  it('plan refuses a manifest whose step key holds a newline: exit 68, the key quoted', async () => {
    writeRelease(store, { name: 'stepkey', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ 'x\nferry: deploy complete: 3 of 3 hosts OK': {} }, { bogus2: {} }] } }, extra: [KEY] });
    const r = await ferry(['plan', 'stepkey@1', '-i', inventory('inv-stepkey', {}), '--store', store]);
    expectOneLine(r, 68, /^ferry: .*services\.web\.install\[0\]\["x\\nferry: deploy complete: 3 of 3 hosts OK"\]: a step kind: a lowercase word/, 'ferry: deploy complete');
  });

  it('plan refuses many unknown step kinds in one line that names the first five and counts the rest (exit 65)', async () => {
    const install = Array.from({ length: 8 }, (_, i) => ({ [`bogus${i}`]: {} }));
    writeRelease(store, { name: 'manysteps', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install } }, extra: [KEY] });
    const r = await ferry(['plan', 'manysteps@1', '-i', inventory('inv-manysteps', {}), '--store', store]);
    expectOneLine(r, 65, /^ferry: bundle manysteps 1: services\.web\.install\[0\]: unknown step kind "bogus0"; .*install\[4\]: unknown step kind "bogus4"; .*; and 3 more\n$/, 'bundle manysteps 1');
  });

  it('plan refuses an inventory variable whose key holds a newline: exit 72, the key quoted', async () => {
    writeRelease(store, { name: 'invkey', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ command: { run: 'true' } }] } }, extra: [KEY] });
    const r = await ferry(['plan', 'invkey@1', '-i', inventory('inv-key', { vars: { 'x\nferry: forged line from the inventory': '{{ nope }}' } }), '--store', store]);
    expectOneLine(r, 72, /^ferry: inventory .*, host h1: vars\["x\\nferry: forged line from the inventory"\]: cannot render \{\{ nope \}\}: nope is an undefined value/, 'ferry: forged');
  });

  it('deploy refuses a manifest option key that holds a newline with one line before any host is touched, the key quoted (exit 72)', async () => {
    writeRelease(store, { name: 'envkey', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ command: { run: 'true', env: { 'x\nferry: forged env key': '{{ nope }}' } } }] } }, extra: [KEY] });
    const file = join(dir, 'inv-envkey.yaml');
    writeFileSync(file, stringify({ groups: { web: { hosts: ['h1'] } }, hosts: { h1: { transport: 'local', vars: { ferry_data_dir: join(dir, 'host-envkey') } } } }));
    const r = await ferry(['deploy', 'envkey@1', '-i', file, '--store', store, '--allow-local', '--push']);
    // the options are rendered for every host before any is touched: the run is refused with that one line
    expectOneLine(r, 72, /^ferry: host h1, service web, install command option env\["x\\nferry: forged env key"\]: cannot render \{\{ nope \}\}: nope is an undefined value/, 'ferry: forged');
    expect(existsSync(join(dir, 'host-envkey'))).toBe(false);
  });

  it('verify refuses a split index that is not JSON with one line, the parser\'s quote of the text left out (exit 68)', async () => {
    const index = join(dir, 'fake.ferry.index.json');
    writeFileSync(index, 'x\n\n\nferry: forged from the index\n\n');
    const r = await ferry(['verify', index, '--keyring', key.public]);
    expectOneLine(r, 68, /^ferry: .*fake\.ferry\.index\.json: not JSON \(Unexpected token 'x': not valid JSON\)\n$/, 'ferry: forged');
  });

  it('build --locked refuses a lock that is not JSON with one line (exit 65)', async () => {
    const spec = join(dir, 'locked.yaml');
    writeFileSync(spec, 'name: locked\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\n');
    writeFileSync(join(dir, 'locked.lock.json'), '{"format":\n\n\nferry: forged from the lock');
    const r = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-locked'), '--cache', join(dir, 'cache')]);
    expectOneLine(r, 65, /^ferry: .*locked\.lock\.json: not a lock file \(Unexpected token 'e': not valid JSON\)\n$/, 'ferry: forged');
  });

  it('build --locked refuses a lock that is a symlink to a file that is not JSON without printing any of that file (exit 65)', async () => {
    const spec = join(dir, 'linked.yaml');
    writeFileSync(spec, 'name: linked\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\n');
    const secret = join(dir, 'secret.txt');
    writeFileSync(secret, 'hunter2-sEcReT:$y$j9T$abcdefgh\n');
    symlinkSync(secret, join(dir, 'linked.lock.json'));
    const r = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-linked'), '--cache', join(dir, 'cache')]);
    expectOneLine(r, 65, /^ferry: .*linked\.lock\.json: not a lock file \(Unexpected token 'h': not valid JSON\)\n$/, 'ferry: forged');
    expect(r.stderr).not.toMatch(/unter2|sEcReT/);
  });

  it('build refuses a service step under install: or stage: (it would restart a running service outside the batches) in one line naming the step (exit 65)', async () => {
    for (const stage of ['install', 'stage']) {
      const spec = join(dir, `live-${stage}.yaml`);
      const steps = [{ file: { content: 'x\n', dest: '/etc/web/web.conf' } }, { service: { name: 'web', state: 'started' } }];
      writeFileSync(spec, stringify({ name: `live${stage}`, version: '1.0.0', epoch: '2026-01-01T00:00:00Z', services: { web: { version: '1', groups: ['web'], [stage]: steps } } }));
      const out = join(dir, `out-live-${stage}`);
      const r = await ferry(['build', spec, '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
      expectOneLine(r, 65, new RegExp(`^ferry: .*live-${stage}\\.yaml: services\\.web\\.${stage}\\[1\\]: a service step starts, stops or restarts a running service, which the ${stage} stage never does .*; write it under configure:\n$`), 'ferry: forged');
      // nothing half-written
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    }
    // the same step under configure: builds
    const ok = join(dir, 'live-configure.yaml');
    writeFileSync(ok, stringify({ name: 'liveconfigure', version: '1.0.0', epoch: '2026-01-01T00:00:00Z', services: { web: { version: '1', groups: ['web'], configure: [{ service: { name: 'web', state: 'started' } }] } } }));
    const built = await ferry(['build', ok, '--key', key.secret, '--out', join(dir, 'out-live-configure'), '--cache', join(dir, 'cache')]);
    expect(built.code, built.stderr).toBe(0);
  });

  it('build refuses a step under stage: whose effect is an activation (apt, venv, rootfs, git, image with retag) in one line naming the step (exit 65); plan refuses a release built with one', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['apt', { packages: ['hello'] }, /an apt step there installs its packages in place/],
      ['venv', { path: '/opt/app/venv' }, /a venv step there builds a virtualenv no configure ever switches to/],
      ['rootfs', { name: 'base', dest: '/srv/base' }, /a rootfs step there unpacks a tree no configure ever switches to/],
      ['git', { name: 'src', dest: '/srv/src' }, /a git step there checks out a tree no configure ever switches to/],
      ['image', { ref: 'registry.example/team/app:1.4', runtime: 'podman', retag: true }, /an image step with retag there moves the image reference/],
    ];
    for (const [kind, options, what] of cases) {
      const spec = join(dir, `stage-${kind}.yaml`);
      const steps = [{ file: { content: 'x\n', dest: '/etc/web/new.conf' } }, { [kind]: options }];
      writeFileSync(spec, stringify({ name: `stage${kind}`, version: '1.0.0', epoch: '2026-01-01T00:00:00Z', services: { web: { version: '1', groups: ['web'], stage: steps } } }));
      const out = join(dir, `out-stage-${kind}`);
      const r = await ferry(['build', spec, '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
      expectOneLine(r, 65, new RegExp(`^ferry: .*stage-${kind}\\.yaml: services\\.web\\.stage\\[1\\]: ${what.source}.*the stage stage runs on every host at once and activates nothing; write it under install:.*\n$`), 'ferry: forged');
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    }
    // a release built before is refused before any host is touched (the inventory's host is unreachable)
    writeRelease(store, { name: 'stageapt', version: '1', services: { web: { version: '1.0.0', groups: ['web'], stage: [{ apt: { packages: ['hello'] } }] } }, extra: [KEY] });
    const plan = await ferry(['plan', 'stageapt@1', '-i', inventory('inv-stageapt', {}), '--store', store]);
    expectOneLine(plan, 65, /^ferry: bundle stageapt 1: services\.web\.stage\[0\]: an apt step there installs its packages in place .*; write it under install: .*\n$/, 'ferry: forged');
  });

  it('build refuses a spec with several bad steps in one line, a step key with a newline quoted (exit 65)', async () => {
    const spec = join(dir, 'steps.yaml');
    const install = [{ 'x\nferry: forged from the spec': {} }, { bogus: {} }, { file: { dest: 'relative' } }];
    writeFileSync(spec, stringify({ name: 'steps', version: '1.0.0', epoch: '2026-01-01T00:00:00Z', services: { web: { version: '1', groups: ['web'], install } } }));
    const r = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-steps'), '--cache', join(dir, 'cache')]);
    expectOneLine(r, 65, /^ferry: .*install\[0\]: unknown step kind "x\\nferry: forged from the spec"; .*install\[1\]: unknown step kind "bogus"; .*install\[2\]\.file: /, 'ferry: forged');
  });

  it('inspect and diff refuse a manifest that is not JSON with one line (exit 68)', async () => {
    const bundle = join(dir, 'notjson.ferry');
    const manifest = Buffer.from('{"format":\n\n\nferry: forged from the manifest');
    const signer = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
    const signature = await signDetached(manifest, [signer], signer.getCreationTime());
    writeFileSync(bundle, craftTar([{ path: 'manifest.json', data: manifest }, { path: 'manifest.json.asc', data: Buffer.from(signature) }]));
    for (const args of [['inspect', bundle], ['diff', bundle, bundle]]) {
      const r = await ferry(args);
      expectOneLine(r, 68, /^ferry: .*notjson\.ferry: manifest\.json is not JSON \(Unexpected token 'e': not valid JSON\)\n$/, 'ferry: forged');
    }
  });

  it('a usage error quoting an argument with a newline is one line (exit 64)', async () => {
    const r = await ferry(['verfy\nferry: forged from argv']);
    expectOneLine(r, 64, /^ferry: unknown command 'verfy\\nferry: forged from argv'/, 'ferry: forged');
  });
});
