import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

/**
 * What deploy and plan decide per host, service and stage from the host's facts: a stage whose last
 * attempt failed runs again; a stage works from what the stages before it left for this bundle (its
 * staged files, the trees install prepared); the keys that say a stage is done hold the variables it
 * reads. On two local hosts (folders on the runner, --allow-local, --push).
 */
describe('deciding each stage from the facts', () => {
  let dir: string;
  let store: string;
  let inventory: string;
  const data = (h: string) => join(dir, h, 'var/lib/ferry');
  const fact = (h: string, svc: string) => readFileSync(join(data(h), 'facts', `${svc}.json`), 'utf8');
  const writeInventory = (roots: Record<string, string> = {}) =>
    writeFileSync(
      inventory,
      stringify({
        groups: { web: { hosts: ['h1', 'h2'] } },
        // the data folder does not follow root: moving root moves the trees, not the facts
        hosts: Object.fromEntries(['h1', 'h2'].map((h) => [h, { transport: 'local', vars: { root: roots[h] ?? join(dir, h), ferry_data_dir: data(h), ferry_ansible_facts_dir: '' } }])),
      }),
    );
  const f = (...args: string[]) => ferry([...args, '--allow-local', '-i', inventory, ...(args[0] === 'status' ? [] : ['--store', store])]);
  const deploy = (ref: string, ...args: string[]) => f('deploy', ref, '--push', ...args);
  const planRows = (out: string) => out.split('\n').filter((l) => /^h\d /.test(l)).map((l) => l.replace(/\s+/g, ' ').trim());

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-stage-order-'));
    store = join(dir, 'store');
    inventory = join(dir, 'inventory.yaml');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('plans a first configure that failed as failed and run again, and keeps a recorded configure failure through a forced install', async () => {
    for (const h of ['h1', 'h2']) rmSync(join(dir, h), { recursive: true, force: true });
    writeInventory();
    writeRelease(store, {
      name: 'health',
      version: '1',
      services: { web: { version: '1.0', groups: ['web'], files: { 'note.txt': 'note\n' }, install: [{ command: { run: 'true' } }], configure: [{ command: { run: 'if test -e {{ root }}/FAIL; then echo unhealthy >&2; exit 3; fi' } }] } },
    });
    mkdirSync(join(dir, 'h1'), { recursive: true });
    writeFileSync(join(dir, 'h1', 'FAIL'), '');
    const first = await deploy('health@1');
    expect(first.code).toBe(72);
    const failedAt = JSON.parse(fact('h1', 'web')).failure.time as string;
    const plan = await f('plan', 'health@1', '--limit', 'h1');
    expect(planRows(plan.stdout).at(-1)).toBe(`h1 web configure run configure failed at ${failedAt}, running again`);

    rmSync(join(dir, 'h1', 'FAIL'));
    expect((await deploy('health@1')).code).toBe(0);
    writeFileSync(join(dir, 'h1', 'FAIL'), '');
    expect((await deploy('health@1', '--limit', 'h1', '--force', 'configure')).code).toBe(72);
    const forcedAt = JSON.parse(fact('h1', 'web')).failure.time as string;
    // a forced install completes: the configure failure recorded before it is still there
    const install = await deploy('health@1', '--limit', 'h1', '--force', 'install', '--stages', 'stage,install');
    expect(install.code, install.stderr + install.stdout).toBe(0);
    expect(JSON.parse(fact('h1', 'web')).failure).toMatchObject({ stage: 'configure', time: forcedAt });
    const plan2 = await f('plan', 'health@1', '--limit', 'h1');
    expect(planRows(plan2.stdout).at(-1)).toBe(`h1 web configure run configure failed at ${forcedAt}, running again`);
    expect(existsSync(join(dir, 'h1', 'FAIL'))).toBe(true);
  });
});
