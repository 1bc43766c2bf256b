import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy } from '../../src/deploy/runDeploy.js';
import { labInventory, recordingLogger, resetHost, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

describe('deploys that must stop without leaving anything half-done', () => {
  const ctx = useLab('refuse', ['x1']);
  const host = () => ctx.lab.hosts[0]!;

  it('refuses an artifact altered after import: the host checks its sha256 and keeps nothing', async () => {
    resetHost(host());
    const digest = writeRelease(ctx.store, { name: 'tampered', version: '1', services: { web: webService('1.0.0') } });
    writeFileSync(join(ctx.store, 'bundles', digest, 'files/web/static.txt'), 'not what was signed\n');
    const { inventory } = labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url });
    const report = await runDeploy({ release: await loadRelease(ctx.store, 'tampered@1'), inventory, hosts: inventory.hosts, source: { push: false }, ssh: { configFile: ctx.lab.sshConfig }, log: recordingLogger() });
    expect(report.ok).toBe(false);
    expect(report.hosts[0]!.error).toMatch(/files\/web\/static.txt: sha256 [0-9a-f]{64}, expected [0-9a-f]{64} \(altered on the server or on the way\)/);
    const staged = join(host().root, 'var/lib/ferry/bundles', digest, 'files/web');
    expect(existsSync(join(staged, 'static.txt'))).toBe(false);
    const blobs = join(host().root, 'var/lib/ferry/blobs/sha256');
    expect(readdirSync(blobs).filter((f) => f.includes('ferry-part'))).toEqual([]);
    const wanted = JSON.parse(readFileSync(join(ctx.store, 'bundles', digest, 'manifest.json'), 'utf8')).entries.find((e: { path: string }) => e.path === 'files/web/static.txt').sha256;
    expect(existsSync(join(blobs, wanted))).toBe(false);
    // the fact completes no stage; it records the failure for `ferry status`
    const fact = JSON.parse(readFileSync(join(host().root, 'var/lib/ferry/facts/web.json'), 'utf8'));
    expect(fact.stages).toEqual({});
    expect(fact.failure).toMatchObject({ stage: 'stage', step: 'artifacts', digest, message: expect.stringMatching(/altered on the server or on the way/) });
  });

  it('refuses a template with an undefined variable before the host is touched, naming it, and leaves the old file', async () => {
    resetHost(host());
    const svc = webService('1.0.0');
    svc.files = { ...svc.files, 'app.conf.j2': 'listen {{ port }}\ncolour {{ colour }}\n' };
    writeRelease(ctx.store, { name: 'undef', version: '1', services: { web: svc } });
    const conf = join(host().root, 'etc/web/app.conf');
    const { inventory } = labInventory(ctx.lab.hosts, {});
    const opts = { inventory, hosts: inventory.hosts, source: { push: true as const }, ssh: { configFile: ctx.lab.sshConfig } };
    writeRelease(ctx.store, { name: 'undef', version: '0', services: { web: webService('0.9.0') } });
    expect((await runDeploy({ ...opts, release: await loadRelease(ctx.store, 'undef@0'), log: recordingLogger() })).ok).toBe(true);
    const before = readFileSync(conf, 'utf8');
    // rendered on the runner before the host is contacted: the run is refused, the new release not even staged there
    const release = await loadRelease(ctx.store, 'undef@1');
    await expect(runDeploy({ ...opts, release, log: recordingLogger() })).rejects.toThrow(/^template files\/web\/app.conf.j2 for host x1: cannot render \{\{ colour \}\}: .*undefined value; define the variable in the inventory/);
    expect(existsSync(join(host().root, 'var/lib/ferry/bundles', release.digest))).toBe(false);
    expect(readFileSync(conf, 'utf8')).toBe(before);
    expect(readdirSync(join(host().root, 'etc/web'))).toEqual(['app.conf']);
  });
});
