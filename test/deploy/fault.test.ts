import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRelease } from '../../src/deploy/loadRelease.js';
import { runDeploy, type DeployReport } from '../../src/deploy/runDeploy.js';
import { labInventory, recordingLogger, resetHost, webService } from './fixtures.js';
import { startSshLab, type SshLab } from './sshLab.js';
import { serveStore, type StaticServer, writeRelease } from './storeFixture.js';

const byHost = (r: DeployReport, host: string) => Object.fromEntries(Object.entries(r.hosts.find((h) => h.host === host)!.services.web!).map(([k, v]) => [k, v!.status]));

describe('a host that drops out during the stage stage', () => {
  let dir: string;
  let lab: SshLab;
  let store: string;
  let server: StaticServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-fault-'));
    store = join(dir, 'store');
    lab = await startSshLab(dir, ['h1', 'h2', 'h3']);
    // every artifact takes 0.6 s to serve, so the stage stage is still running when h2 goes away
    server = await serveStore(store, { delayMs: 600 });
  });
  afterAll(async () => {
    await lab?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails that host only; after it is back a re-run does only the missing work', async () => {
    for (const h of lab.hosts) resetHost(h);
    const svc = webService('1.0.0');
    svc.files = { ...svc.files, 'a.bin': 'a'.repeat(1000), 'b.bin': 'b'.repeat(1000), 'c.bin': 'c'.repeat(1000) };
    const digest = writeRelease(store, { name: 'demo', version: '1', services: { web: svc } });
    const { inventory } = labInventory(lab.hosts, { ferry_server: server.url });
    const h2 = lab.hosts[1]!;
    let killed: Promise<void> | undefined;
    const log = recordingLogger((e) => {
      if (e.type === 'stage' && e.host === 'h2' && e.stage === 'stage' && e.status === 'start') {
        killed = new Promise((r) => setTimeout(r, 1500)).then(() => lab.stop(h2));
      }
    });
    const release = await loadRelease(store, 'demo@1');
    const opts = { release, inventory, hosts: inventory.hosts, source: { push: false as const }, ssh: { configFile: lab.sshConfig }, retry: { retries: 2, delayMs: 200 } };
    const first = await runDeploy({ ...opts, log });
    await killed;

    expect(first.ok).toBe(false);
    expect(byHost(first, 'h1')).toEqual({ stage: 'ran', install: 'ran', configure: 'ran' });
    expect(byHost(first, 'h3')).toEqual({ stage: 'ran', install: 'ran', configure: 'ran' });
    expect(byHost(first, 'h2')).toEqual({ stage: 'failed', install: 'not run', configure: 'not run' });
    expect(first.hosts[1]!.error).toMatch(/host h2 .*ssh/);
    expect(log.events.filter((e) => e.type === 'retry' && e.host === 'h2')).toHaveLength(2);
    expect(existsSync(join(h2.root, 'var/lib/ferry/facts/web.json'))).toBe(false);
    const staged = readdirSync(join(h2.root, 'var/lib/ferry/bundles', digest, 'files/web')).filter((f) => !f.includes('ferry-part'));
    expect(staged.length).toBeGreaterThan(0);
    expect(staged.length).toBeLessThan(5);

    await lab.start(h2);
    server.requests.length = 0;
    const again = await runDeploy({ ...opts, log: recordingLogger() });
    expect(again.ok).toBe(true);
    expect(byHost(again, 'h1')).toEqual({ stage: 'skipped', install: 'skipped', configure: 'skipped' });
    expect(byHost(again, 'h3')).toEqual({ stage: 'skipped', install: 'skipped', configure: 'skipped' });
    expect(byHost(again, 'h2')).toEqual({ stage: 'ran', install: 'ran', configure: 'ran' });
    // only what h2 was missing crossed the wire
    expect(server.requests.length).toBe(5 - staged.length);
    expect(readFileSync(join(h2.root, 'etc/web/app.conf'), 'utf8')).toContain('name h2');
  });
});
