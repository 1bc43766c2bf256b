import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labInventory, repo, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * Without --max-fail-percent, a configure batch whose every host failed (a health check, a config
 * check) stops the rollout before the next batch touches another host, as Ansible's serial does; a
 * batch where some host succeeded goes on. Real sshd hosts, artifacts from a static server.
 */
describe('configure batches stop when a whole batch failed', () => {
  const ctx = useLab('batch-stop', ['bs1', 'bs2', 'bs3', 'bs4']);
  let inv = '';
  const configured = () => ctx.lab.hosts.map((h) => existsSync(join(h.root, 'etc/web/app.conf')) && readFileSync(join(h.root, 'etc/web/app.conf'), 'utf8').includes('version 1.0.0'));
  const deploy = (...args: string[]) => {
    for (const h of ctx.lab.hosts) resetHost(h);
    return runFerry('deploy', 'bs@1', '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig, ...args);
  };

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    inv = join(ctx.dir, 'inventory.yaml');
    // the configure command fails on bs1 and bs2 (after the template was written)
    writeFileSync(inv, labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }, { bs1: { fail: 'yes' }, bs2: { fail: 'yes' } }).text);
    writeRelease(ctx.store, { name: 'bs', version: '1', services: { web: webService('1.0.0') } });
  });

  it('--serial 1 (the default): stops at the first failed host, naming it, the batch and what to do', async () => {
    const r = await deploy();
    expect(r.code, r.stderr).toBe(72);
    expect(configured()).toEqual([true, false, false, false]);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('ferry: 1 host failed (bs1); configure failed on every host of batch 1/4 (bs1); the rollout stopped, 3 hosts not reached (--max-fail-percent 100 goes on past a failed batch); fix the cause and run the same command again: completed stages are skipped');
    expect(r.stdout).toMatch(/^configure not run on 3 \(bs2 web, bs3 web, bs4 web\): rollout stopped \(--serial\)$/m);
    expect(r.stdout).toMatch(/^bs 1 \(\w+\): 0 of 4 hosts ok, 3 not reached, /m);
  });

  it('--serial 2: stops after the batch where both hosts failed', async () => {
    const r = await deploy('--serial', '2');
    expect(r.code, r.stderr).toBe(72);
    expect(configured()).toEqual([true, true, false, false]);
    expect(r.stderr).toContain('configure failed on every host of batch 1/2 (bs1, bs2); the rollout stopped, 2 hosts not reached');
  });

  it('--serial 3: a batch where a host succeeded goes on', async () => {
    const r = await deploy('--serial', '3');
    expect(r.code, r.stderr).toBe(72);
    expect(configured()).toEqual([true, true, true, true]);
    expect(r.stderr).not.toContain('the rollout stopped');
  });

  it('--max-fail-percent decides instead: 100 goes on past failed batches', async () => {
    const r = await deploy('--max-fail-percent', '100');
    expect(r.code, r.stderr).toBe(72);
    expect(configured()).toEqual([true, true, true, true]);
    expect(r.stderr).not.toContain('the rollout stopped');
  });
});
