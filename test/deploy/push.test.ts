import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy } from '../../src/deploy/runDeploy.js';
import { labInventory, recordingLogger, resetHost, webService } from './fixtures.js';
import { canUseNetns, createNetns, type Netns } from './netns.js';
import { startSshLab, type SshLab } from './sshLab.js';
import { serveStore, writeRelease } from './storeFixture.js';

describe('staging with --push', () => {
  let dir: string;
  let lab: SshLab;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-push-'));
    lab = await startSshLab(dir, ['p1', 'p2']);
  });
  afterAll(async () => {
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies the artifacts over ssh, checks them on the host, and sends nothing the host has', async () => {
    for (const h of lab.hosts) resetHost(h);
    const store = join(dir, 'store');
    const digest = writeRelease(store, { name: 'demo', version: '1', services: { web: webService('1.0.0') } });
    const { inventory } = labInventory(lab.hosts, {});
    const release = await loadRelease(store, 'demo@1');
    const opts = { release, inventory, hosts: inventory.hosts, source: { push: true as const }, ssh: { configFile: lab.sshConfig } };
    const first = await runDeploy({ ...opts, log: recordingLogger() });
    expect(first.ok).toBe(true);
    for (const h of lab.hosts) {
      expect(readFileSync(join(h.root, 'var/lib/ferry/bundles', digest, 'files/web/static.txt'), 'utf8')).toBe('static 1.0.0\n');
      expect(readFileSync(join(h.root, 'srv/static.txt'), 'utf8')).toBe('static 1.0.0\n');
    }
    // lose the fact of the stage stage: the check finds every file in place and pushes nothing
    const log = recordingLogger();
    const again = await runDeploy({ ...opts, force: ['stage'], log });
    expect(again.ok).toBe(true);
    expect(log.events.filter((e) => e.type === 'step' && e.step === 'artifacts').map((e) => e.detail)).toEqual(['all artifacts present', 'all artifacts present']);
  });
});

describe.runIf(canUseNetns())('a host whose only route is to the runner (network namespace)', () => {
  let dir: string;
  let lab: SshLab;
  let ns: Netns;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-netns-'));
    ns = await createNetns();
    lab = await startSshLab(dir, ['gap'], { netns: { gap: { address: ns.inside, netns: ns.name } } });
  });
  afterAll(async () => {
    await lab?.close();
    await ns?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['http', 'push'] as const) {
    it(`completes the stage stage ${mode === 'http' ? 'from the served store' : 'with --push'}`, async () => {
      for (const h of lab.hosts) resetHost(h);
      const store = join(dir, 'store');
      const digest = writeRelease(store, { name: 'demo', version: '1', services: { web: webService('1.0.0') } });
      const server = await serveStore(store, { host: ns.runner });
      try {
        const { inventory } = labInventory(lab.hosts, mode === 'http' ? { ferry_server: server.url } : {});
        const report = await runDeploy({ release: await loadRelease(store, 'demo@1'), inventory, hosts: inventory.hosts, source: { push: mode === 'push' }, ssh: { configFile: lab.sshConfig }, log: recordingLogger() });
        expect(report.hosts[0]!.error).toBeUndefined();
        expect(report.ok).toBe(true);
        expect(readFileSync(join(lab.hosts[0]!.root, 'var/lib/ferry/bundles', digest, 'files/web/app.conf.j2'), 'utf8')).toContain('listen');
        expect(server.requests.length).toBe(mode === 'http' ? 2 : 0);
      } finally {
        await server.close();
      }
    });
  }
});
