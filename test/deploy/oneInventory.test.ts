import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { repo } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * `-i` repeated for a command that takes one inventory: `ferry status -i north.yaml -i south.yaml` reads both,
 * so an operator writes the same for deploy; commander kept the last one, and the deploy went to south only
 * (exit 0), a gc -i kept only what south's hosts run.
 */
describe('-i given twice to a command that takes one inventory', () => {
  let dir: string;
  let store: string;
  const root = (region: string) => join(dir, region, 'host');
  const inv = (region: string) => join(dir, `${region}.yaml`);

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    dir = mkdtempSync(join(tmpdir(), 'ferry-oneinv-'));
    store = join(dir, 'store');
    for (const region of ['north', 'south']) {
      mkdirSync(root(region), { recursive: true });
      const host = { transport: 'local', vars: { root: root(region), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } };
      writeFileSync(inv(region), stringify({ groups: { web: { hosts: [`${region}1`] } }, hosts: { [`${region}1`]: host } }));
    }
    for (const v of ['1', '2']) {
      writeRelease(store, { name: 'oi', version: v, epoch: `2026-11-0${v}T00:00:00Z`, services: { web: { version: v, groups: ['web'], files: { 'web.conf': `web ${v}\n` }, configure: [{ file: { src: 'web.conf', dest: '{{ root }}/etc/web.conf' } }] } } });
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const both = () => ['-i', inv('north'), '-i', inv('south')];
  const refused = () => `ferry: -i ${inv('north')} -i ${inv('south')}: this command takes one inventory (only ferry status reads several, one per region); run it once per inventory\n`;

  it.each([
    ['deploy', 'oi@1', '--push', '--allow-local'],
    ['rollback', 'oi', '--to', '1', '--push', '--allow-local'],
    ['plan', 'oi@1', '--allow-local'],
  ])('%s: one line, exit 64, no host touched', async (...args) => {
    const r = await ferry([...args, '--store', store, ...both()]);
    expect(r.stderr).toBe(refused());
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    for (const region of ['north', 'south']) expect(readdirSync(root(region))).toEqual([]);
  });

  it('gc: one line, exit 64, nothing removed', async () => {
    const before = readdirSync(join(store, 'refs'), { recursive: true }).sort();
    const r = await ferry(['gc', '--keep', '1', '--store', store, '--allow-local', ...both()]);
    expect(r.stderr).toBe(refused());
    expect(r.code).toBe(64);
    expect(readdirSync(join(store, 'refs'), { recursive: true }).sort()).toEqual(before);
  });
});
