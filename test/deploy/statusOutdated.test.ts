import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusReportSchema } from '../../src/deploy/statusReport.js';
import { ferry } from '../helpers/cli.js';
import { repo } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * ferry status on folder hosts (the local transport, --allow-local) after the inventory's variables changed
 * since the last configure: the facts still say complete, but ferry plan (and the next deploy) runs configure
 * again. Status said "complete" all the same; an operator read it as nothing to do.
 */
const HOSTS = ['w1', 'w2'];

beforeAll(() => {
  if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
});

describe('ferry status after the inventory variables changed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-stvars-'));
  const store = join(dir, 'store');
  const inventory = join(dir, 'inventory.yaml');
  const root = (h: string) => join(dir, 'hosts', h);
  const writeInventory = (w1Port: number) =>
    writeFileSync(inventory, stringify({ groups: { web: { hosts: HOSTS } }, hosts: Object.fromEntries(HOSTS.map((h) => [h, { transport: 'local', vars: { root: root(h), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '', port: h === 'w1' ? w1Port : 80 } }])) }));
  const status = (...args: string[]) => ferry(['status', '-i', inventory, '--allow-local', '--store', store, ...args]);
  let digest = '';

  beforeAll(async () => {
    for (const h of HOSTS) mkdirSync(root(h), { recursive: true });
    writeInventory(80);
    digest = writeRelease(store, {
      name: 'so',
      version: '1.0.0',
      services: { web: { version: '1.0.0', groups: ['web'], files: { 'web.conf.j2': 'listen {{ port }}\n' }, configure: [{ template: { src: 'web.conf.j2', dest: '{{ root }}/etc/web.conf' } }] } },
    });
    const r = await ferry(['deploy', 'so@1.0.0', '-i', inventory, '--allow-local', '--store', store, '--push']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('before the change: complete, and --expect passes', async () => {
    const r = await status('--expect', digest);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^w1\s+web\s+.*done\s+done\s+done\s+yes$/m);
    expect(r.stdout).toMatch(/, complete$/m);
    expect(r.stdout).not.toMatch(/outdated|not checked/);
  });

  it('after it: the host plan would configure again is outdated, in the table, under it, in the summary, the JSON and --expect', async () => {
    writeInventory(8080);
    const plan = await ferry(['plan', 'so@1.0.0', '-i', inventory, '--allow-local', '--store', store]);
    expect(plan.stdout).toMatch(/^w1\s+web\s+configure\s+run\s+inventory variables changed$/m);

    const r = await status();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^w1\s+web\s+.*done\s+done\s+outdated\s+outdated$/m);
    expect(r.stdout).toMatch(/^w2\s+web\s+.*done\s+done\s+done\s+yes$/m);
    expect(r.stdout).toContain(`w1 web: outdated: configure: inventory variables changed (its facts say complete; a deploy of ${digest.slice(0, 12)} runs it again)\n`);
    expect(r.stdout).not.toMatch(/, complete$/m);
    expect(r.stdout).toMatch(/^1 distinct bundle digest across 2 hosts \(\w{12}\); 1 service outdated \(a deploy of their bundle would run a stage again\)$/m);

    const json = await status('--json');
    const report = StatusReportSchema.parse(JSON.parse(json.stdout));
    expect(report.rows.map((row) => [row.host, row.complete, row.outdated, row.stages?.configure])).toEqual([
      ['w1', false, 'configure: inventory variables changed', 'outdated'],
      ['w2', true, undefined, 'done'],
    ]);
    expect(report.regions[0]!.complete).toBe(false);
    expect(report.running).toEqual([digest]);
    expect(report.unchecked).toBeUndefined();

    const expectRun = await status('--expect', digest);
    expect(expectRun.code).toBe(72);
    expect(expectRun.stderr).toBe(`ferry: not every host runs bundle ${digest}: w1/web runs ${digest.slice(0, 12)} (outdated: configure: inventory variables changed)\n`);
  });

  it('without the release in the store it cannot tell, and says so', async () => {
    const empty = join(dir, 'empty-store');
    const r = await ferry(['status', '-i', inventory, '--allow-local', '--store', empty]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^w1\s+web\s+.*done\s+done\s+done\s+yes$/m);
    expect(r.stdout).toContain(`inventory variables not checked for bundle ${digest.slice(0, 12)}: store ${empty} does not exist: run ferry import first\n`);
  });

  it('configured again, it is complete', async () => {
    const r = await ferry(['deploy', 'so@1.0.0', '-i', inventory, '--allow-local', '--store', store, '--push']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(root('w1'), 'etc/web.conf'), 'utf8')).toBe('listen 8080\n');
    const s = await status('--expect', digest);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).not.toMatch(/outdated/);
  });
});
