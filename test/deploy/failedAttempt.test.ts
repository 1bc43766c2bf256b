import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labInventory, repo, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * A stage that failed for one bundle changed the host half way after the stage last completed for
 * another: a later deploy of that other bundle (a rollback) must run it again, not skip it on the
 * older completion (real sshd hosts, artifacts fetched from a static server).
 */
describe('a rollback after a configure that failed on one host', () => {
  const ctx = useLab('failed-attempt', ['fa1', 'fa2', 'fa3']);
  let inv = '';
  const digest: Record<string, string> = {};
  const conf = () => ctx.lab.hosts.map((h) => readFileSync(join(h.root, 'etc/web/app.conf'), 'utf8').split('\n').find((l) => l.startsWith('version')));

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    for (const h of ctx.lab.hosts) resetHost(h);
    inv = join(ctx.dir, 'inventory.yaml');
    writeFileSync(inv, labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }).text);
    // configuration only: install changes nothing, so no pending activation makes configure run
    digest['1'] = writeRelease(ctx.store, { name: 'fa', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0', { install: [] }) } });
    // release 2's health check fails on fa1 only, after its template was written
    const two = webService('2.0.0', { install: [] });
    two.configure = [...two.configure!.slice(0, 2), { command: { run: 'test "{{ inventory_hostname }}" != fa1' } }, ...two.configure!.slice(3)];
    digest['2'] = writeRelease(ctx.store, { name: 'fa', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: two } });
  });

  const ferry = (...args: string[]) => runFerry(...args, '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig);
  const status = (...args: string[]) => runFerry('status', ...args, '-i', inv, '-F', ctx.lab.sshConfig);
  const fa1 = async () => JSON.parse((await status('--json')).stdout).rows.find((r: { host: string }) => r.host === 'fa1');

  it('configures the failed host again, and status says so until it has', async () => {
    expect((await ferry('deploy', 'fa@1')).code).toBe(0);
    const two = await ferry('deploy', 'fa@2');
    expect(two.code, two.stderr).toBe(72);
    // fa1's configure wrote release 2's file, then its health check failed; the rollout stopped there
    expect(conf()).toEqual(['version 2.0.0', 'version 1.0.0', 'version 1.0.0']);

    expect((await fa1()).stages.configure).toBe('failed');

    const plan = await ferry('plan', 'fa@1');
    expect(plan.stdout).toMatch(new RegExp(`^fa1 +web +configure +run +configure failed for bundle ${digest['2']!.slice(0, 12)} at \\S+, running again$`, 'm'));

    // the slow part of the rollback first: fa1 is brought to release 1, whose configure it completed
    // before release 2's failed; what it has is that failed attempt, not release 1's configuration
    const staged = await ferry('rollback', 'fa', '--stages', 'stage,install');
    expect(staged.code, staged.stderr).toBe(0);
    const between = await fa1();
    expect(between.digest).toBe(digest['1']);
    expect(between.stages.configure).toBe('failed');
    expect(between.complete).toBe(false);

    const back = await ferry('rollback', 'fa', '--to', '1');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toContain(`rolling back fa to 1 (${digest['1']!.slice(0, 12)})`);
    expect(back.stdout).toMatch(/^fa1\s+web\s+\S+.*\s+ran \(\d+ changed\)/m);
    expect(conf()).toEqual(['version 1.0.0', 'version 1.0.0', 'version 1.0.0']);
    const after = await status('--expect', digest['1']!);
    expect(after.code, after.stdout + after.stderr).toBe(0);
  });
});
