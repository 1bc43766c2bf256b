import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { StatusReportSchema, statusReport } from '../../src/deploy/statusReport.js';
import { SpecError } from '../../src/errors.js';
import { ferry } from '../helpers/cli.js';

const D1 = 'a1'.repeat(32);
const D2 = 'b2'.repeat(32);
const done = { stage: 'done', install: 'done', configure: 'done' } as const;

describe('regions for ferry status', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-status-regions-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names a region by its region: key, else by the inventory file, and refuses a name that is not plain', () => {
    expect(parseInventory('hosts: { h1: }\n', '/srv/site/north.yaml').region).toBe('north');
    expect(parseInventory('hosts: { h1: }\n', 'inventories/eu-west.yml').region).toBe('eu-west');
    expect(parseInventory('region: south\nhosts: { h1: }\n', 'site-b.yaml').region).toBe('south');
    expect(() => parseInventory('region: "\\e[31mred"\nhosts: { h1: }\n', 'x.yaml')).toThrow(SpecError);
  });

  it('refuses two inventories of one region before asking any host', async () => {
    for (const d of ['a', 'b']) {
      mkdirSync(join(dir, d));
      writeFileSync(join(dir, d, 'north.yaml'), 'hosts: { h1: { transport: local } }\n');
    }
    const r = await ferry(['status', '--allow-local', '-i', join(dir, 'a/north.yaml'), '-i', join(dir, 'b/north.yaml')]);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe(`ferry: inventories ${join(dir, 'a/north.yaml')} and ${join(dir, 'b/north.yaml')} are both region "north"; give one a region: key (or a different file name)\n`);
  });

  it('reports every region with its own digests and completeness, and says per region what --expect misses', () => {
    const host = (name: string) => ({ name, address: name, transport: 'ssh' as const, vars: {}, groups: ['all'] });
    const report = statusReport(
      [
        { region: 'north', inventory: 'north.yaml', hosts: [host('n1'), host('n2')], status: { rows: [{ host: 'n1', service: 'web', release: 'site 2', version: '2.0', digest: D2, stages: done, complete: true }], unreachable: [] } },
        {
          region: 'south',
          inventory: 'south.yaml',
          hosts: [host('s1'), host('s2')],
          status: {
            rows: [{ host: 's1', service: 'web', release: 'site 1', version: '1.0', digest: D1, stages: { ...done, configure: 'failed' }, complete: false, failure: { stage: 'configure', step: 'service', time: 't', message: 'exit status 1', digest: D1, extra: 'dropped' } }],
            unreachable: [{ host: 's2', error: 'ssh: connect to host s2 port 22: No route to host' }],
          },
        },
      ],
      D2,
    );
    expect(StatusReportSchema.parse(report)).toEqual(report);
    expect(report.regions).toEqual([
      { region: 'north', inventory: 'north.yaml', hosts: 2, digests: [D2], running: [D2], unreachable: 0, complete: false },
      // s1's first configure of D1 failed: D1 is what it is brought to, nothing runs there yet
      { region: 'south', inventory: 'south.yaml', hosts: 2, digests: [D1], running: [], unreachable: 1, complete: false },
    ]);
    expect(report.noFacts).toEqual([{ region: 'north', host: 'n2' }]);
    expect(report.digests).toEqual([D2, D1]);
    expect(report.running).toEqual([D2]);
    expect(report.rows[1]!.failure).toEqual({ stage: 'configure', step: 'service', time: 't', message: 'exit status 1', digest: D1 });
    expect(report.expect).toEqual({ digest: D2, ok: false, off: [`south: s1/web runs ${D1.slice(0, 12)} (incomplete: configure failed)`, 'north: n2 has no facts', 'south: s2 is unreachable'], services: 'not checked: no release to check against' });
  });
});

describe('ferry status and a fact another host wrote', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-status-cloned-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('does not count a fact copied from another host (a cloned disk image) as this host complete', async () => {
    const facts = join(dir, 'facts');
    mkdirSync(facts);
    const stage = (s: string) => ({ time: 't', version: '1.0', digest: D1, key: `${s}-key`, artifacts: 'a', changed: 0 });
    const fact = { format: 'ferry-fact/1', service: 'web', host: 'golden', version: '1.0', digest: D1, release: { name: 'site', version: '1' }, keys: { stage: 'stage-key', install: 'install-key', configure: 'configure-key' }, stages: { stage: stage('stage'), install: stage('install'), configure: stage('configure') } };
    writeFileSync(join(facts, 'web.json'), JSON.stringify(fact));
    writeFileSync(join(dir, 'site.yaml'), 'hosts: { clone1: { transport: local } }\n');
    const r = await ferry(['status', '--allow-local', '-i', join(dir, 'site.yaml'), '--facts-dir', facts, '--expect', D1.slice(0, 12), '--json']);
    expect(r.code).toBe(72);
    const report = StatusReportSchema.parse(JSON.parse(r.stdout));
    expect(report.rows).toEqual([{ region: 'site', host: 'clone1', service: 'web', complete: false, problem: 'the fact was written for host golden, not this one' }]);
    // the same fact on the host that wrote it is complete
    writeFileSync(join(facts, 'web.json'), JSON.stringify({ ...fact, host: 'clone1' }));
    const own = await ferry(['status', '--allow-local', '-i', join(dir, 'site.yaml'), '--facts-dir', facts, '--expect', D1.slice(0, 12), '--json']);
    expect(own.code).toBe(0);
  });
});

describe('ferry status in the middle of a rollout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-status-rollout-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says which bundle runs where a service is installed at the new bundle but configured at the old one', async () => {
    const facts = join(dir, 'facts');
    mkdirSync(facts);
    // a stage done by the older bundle counts for the new one only when its key is the new one's too
    const stage = (s: string, digest: string) => ({ time: 't', version: '1.0', digest, key: digest === D2 ? `${s}-key` : `${s}-old-key`, artifacts: 'a', changed: 0 });
    const fact = (service: string, configured: string) => ({
      format: 'ferry-fact/1',
      service,
      host: 'h1',
      version: '1.0',
      digest: D2,
      release: { name: 'site', version: '2' },
      keys: { stage: 'stage-key', install: 'install-key', configure: 'configure-key' },
      stages: { stage: stage('stage', D2), install: stage('install', D2), configure: stage('configure', configured) },
    });
    writeFileSync(join(facts, 'web.json'), JSON.stringify(fact('web', D2)));
    writeFileSync(join(facts, 'api.json'), JSON.stringify(fact('api', D1)));
    writeFileSync(join(dir, 'site.yaml'), 'hosts: { h1: { transport: local } }\n');
    const json = await ferry(['status', '--allow-local', '-i', join(dir, 'site.yaml'), '--facts-dir', facts, '--json']);
    const report = StatusReportSchema.parse(JSON.parse(json.stdout));
    expect(report.rows.map((r) => [r.service, r.complete, r.digest, r.configured])).toEqual([
      ['api', false, D2, D1],
      ['web', true, D2, undefined],
    ]);
    expect(report.digests).toEqual([D2]);
    expect(report.running).toEqual([D1, D2]);
    expect(report.regions[0]!.running).toEqual([D1, D2]);
    const text = await ferry(['status', '--allow-local', '-i', join(dir, 'site.yaml'), '--facts-dir', facts]);
    expect(text.stdout).toContain(`region site (${join(dir, 'site.yaml')}): 1 host, bundle ${D2.slice(0, 12)}; running ${D1.slice(0, 12)}, ${D2.slice(0, 12)}\n`);
    expect(text.stdout).toContain(`1 distinct bundle digest across 1 host (${D2.slice(0, 12)}); running ${D1.slice(0, 12)}, ${D2.slice(0, 12)}\n`);
  });
});
