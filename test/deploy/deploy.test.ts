import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRelease } from '../../src/deploy/loadRelease.js';
import { runDeploy, type DeployReport } from '../../src/deploy/runDeploy.js';
import { labInventory, recordingLogger, resetHost, webService } from './fixtures.js';
import { startSshLab, type SshLab } from './sshLab.js';
import { serveStore, type StaticServer, writeRelease } from './storeFixture.js';

const statuses = (r: DeployReport) => r.hosts.flatMap((h) => Object.entries(h.services).flatMap(([svc, st]) => Object.entries(st).map(([stage, o]) => `${h.host} ${svc} ${stage} ${o!.status}`)));

describe('ferry deploy over real OpenSSH', () => {
  let dir: string;
  let lab: SshLab;
  let store: string;
  let server: StaticServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-deploy-'));
    store = join(dir, 'store');
    lab = await startSshLab(dir, ['h1', 'h2', 'h3']);
    server = await serveStore(store);
  });
  afterAll(async () => {
    await lab?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const deploy = async (ref: string, extra: Partial<Parameters<typeof runDeploy>[0]> = {}, hostVars = {}) => {
    const log = recordingLogger();
    const { inventory } = labInventory(lab.hosts, { ferry_server: server.url }, hostVars);
    const report = await runDeploy({ release: await loadRelease(store, ref), inventory, hosts: inventory.hosts, source: { push: false }, ssh: { configFile: lab.sshConfig }, log, ...extra });
    return { report, log };
  };

  it('runs every stage on three hosts, then skips every stage on the second run', async () => {
    for (const h of lab.hosts) resetHost(h);
    writeRelease(store, { name: 'demo', version: '1', services: { web: webService('1.0.0') } });
    const first = await deploy('demo@1');
    expect(first.report.ok).toBe(true);
    expect(statuses(first.report).filter((s) => !s.endsWith(' ran'))).toEqual([]);
    expect(statuses(first.report)).toHaveLength(9);
    for (const h of lab.hosts) {
      expect(readFileSync(join(h.root, 'etc/web/app.conf'), 'utf8')).toBe(`listen 8080\nname ${h.name}\nversion 1.0.0\n`);
      expect(readFileSync(join(h.root, 'srv/static.txt'), 'utf8')).toBe('static 1.0.0\n');
      const fact = JSON.parse(readFileSync(join(h.root, 'var/lib/ferry/facts/web.json'), 'utf8'));
      expect(fact).toMatchObject({ service: 'web', version: '1.0.0', host: h.name });
      expect(Object.keys(fact.stages).sort()).toEqual(['configure', 'install', 'stage']);
      expect(readFileSync(join(h.root, 'systemctl.log'), 'utf8')).toContain('restart web');
    }

    const before = lab.hosts.map((h) => lab.sessions(h));
    const second = await deploy('demo@1');
    expect(second.report.ok).toBe(true);
    expect(statuses(second.report).every((s) => s.endsWith(' skipped'))).toBe(true);
    // one command per host: reading the facts; the hosts' own sshd logs agree
    expect(second.report.hosts.map((h) => h.commands)).toEqual([1, 1, 1]);
    expect(lab.hosts.map((h, i) => lab.sessions(h) - before[i]!)).toEqual([1, 1, 1]);
    for (const h of lab.hosts) expect(readFileSync(join(h.root, 'install.log'), 'utf8')).toBe('1.0.0\n');
  });
});
