import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployError } from '../../src/errors.js';
import { FACT_FORMAT } from '../../src/deploy/fact.js';
import { LocalTransport } from '../../src/deploy/transport/localTransport.js';
import { writeFact } from '../../src/deploy/writeFact.js';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

/** Any entry, so the fixture has a bundle folder to write the manifest into. */
const KEY = { path: 'keys/bundle.asc', content: 'key\n', kind: 'key' as const, services: [] };

/** Every file under dir, relative ("" when dir does not exist). */
function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

describe('deploying names from a manifest on a host', () => {
  let dir: string;
  let store: string;
  let inventory: string;
  const host = () => join(dir, 'host');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-deploy-'));
    store = join(dir, 'store');
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { root: host(), ferry_data_dir: '{{ root }}/var/lib/ferry' } } } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a service named ../../escaped planted in the store: plan and deploy refuse the release (exit 68) and no fact is written anywhere', async () => {
    // written straight into the store, as a store filled by an older ferry or by hand would hold it
    writeRelease(store, { name: 'planted', version: '1', services: { '../../escaped': { version: '1.0.0', groups: ['web'], install: [{ command: { run: 'true' } }] } }, extra: [KEY] });
    for (const verb of ['plan', 'deploy']) {
      const r = await ferry([verb, 'planted@1', '--allow-local', '-i', inventory, '--store', store]);
      expect(r.code, r.stderr).toBe(68);
      expect(r.stderr).toMatch(/manifest\.json does not match format ferry-bundle\/1: manifest\.json: services\.\.\.\/\.\.\/escaped: a name of/);
    }
    // the fact would have gone to DATA/facts/../../escaped.json = host/var/lib/escaped.json
    expect(listTree(host())).toEqual([]);
  });

  it.each([
    ['a unit name that is shell', { configure: [{ service: { name: 'web; touch /tmp/p' } }] }, /services\.web\.configure\[0\]\.service: name: a unit name of letters/],
    ['a rootfs step name with a slash', { install: [{ rootfs: { name: '../x', dest: '/srv/x' } }] }, /services\.web\.install\[0\]\.rootfs: name: a name of/],
  ])('a release whose steps carry %s: plan and deploy refuse it (exit 65, like any step its schema refuses) before touching the host', async (label, steps, message) => {
    const store = join(dir, `store-${label.split(' ')[1]}`);
    writeRelease(store, { name: 'steps', version: '1', services: { web: { version: '1.0.0', groups: ['web'], ...steps } }, extra: [KEY] });
    for (const verb of ['plan', 'deploy']) {
      const r = await ferry([verb, 'steps@1', '--allow-local', '-i', inventory, '--store', store]);
      expect(r.code, r.stderr).toBe(65);
      expect(r.stderr).toMatch(message);
    }
    expect(listTree(host())).toEqual([]);
  });

  it('writeFact keeps a fact in its folder even when handed such a name directly', async () => {
    const facts = join(dir, 'direct', 'a', 'b', 'facts');
    mkdirSync(facts, { recursive: true });
    const fact = { format: FACT_FORMAT, service: '../../escaped', host: 'runner', version: '1', digest: 'd'.repeat(64), release: { name: 'x', version: '1' }, stages: {} };
    await expect(writeFact(new LocalTransport('runner'), facts, fact)).rejects.toThrow(DeployError);
    await expect(writeFact(new LocalTransport('runner'), facts, fact)).rejects.toThrow(/refusing the fact of service "\.\.\/\.\.\/escaped": not a plain name/);
    expect(listTree(join(dir, 'direct'))).toEqual([]);
  });

  it('a step whose host output carries terminal escapes and a forged line is reported escaped', async () => {
    const run = `printf 'boom\\033[2J\\033[H\\nferry: all hosts ok\\n' >&2; exit 3`;
    const store = join(dir, 'store-noisy');
    writeRelease(store, { name: 'noisy', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ command: { run } }] } }, extra: [KEY] });
    const r = await ferry(['deploy', 'noisy@1', '--allow-local', '-i', inventory, '--store', store]);
    expect(r.code, r.stderr).toBe(72);
    const out = r.stdout + r.stderr;
    expect(out).toContain('boom\\x1b[2J\\x1b[H');
    expect(out).not.toMatch(/\x1b/);
  });
});
