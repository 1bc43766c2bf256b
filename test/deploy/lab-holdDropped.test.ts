import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labInventory, repo, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { until } from '../helpers/until.js';

/**
 * A host that goes down in its configure batch (its sshd stopped): the rollout stops there (72), the later
 * batches are not configured, and the end of the run says what happened to that host's hold. Its connection
 * had dropped, so the hold had ended long before; the run said it "did not end within --timeout after the
 * run; stopped waiting for it", a wait that never happened (the default --timeout is 30 minutes).
 */
describe('a host that goes down in its configure batch (sshd hosts)', () => {
  const ctx = useLab('hold-dropped', ['hd1', 'hd2', 'hd3']);
  let inv = '';
  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    for (const h of ctx.lab.hosts) resetHost(h);
    inv = join(ctx.dir, 'inventory.yaml');
    writeRelease(ctx.store, { name: 'hd', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    writeRelease(ctx.store, { name: 'hd', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: webService('2.0.0') } });
  });

  it('stops the rollout there, and does not say its hold was waited for', async () => {
    writeFileSync(inv, labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }).text);
    const common = ['--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig];
    const first = await runFerry('deploy', 'hd@1', ...common);
    expect(first.code, first.stderr).toBe(0);
    const hd2 = ctx.lab.hosts[1]!;
    // hd2's configure waits until its sshd is stopped (which ends it)
    writeFileSync(inv, labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }, { hd2: { configure_wait: `touch ${hd2.root}/in-conf; sleep 3600` } }).text);
    const run = runFerry('deploy', 'hd@2', ...common, '--serial', '1', '--retry-delay', '50');
    await until('hd2 to reach its configure', () => existsSync(join(hd2.root, 'in-conf')));
    await ctx.lab.stop(hd2);
    const r = await run;
    expect(r.code).toBe(72);
    expect(r.stdout).toMatch(/^hd1 +web +ran \(\d+ changed\) +ran \(\d+ changed\) +ran/m);
    expect(r.stdout).toMatch(/^hd2 +web +ran \(\d+ changed\) +ran \(\d+ changed\) +failed/m);
    expect(r.stdout).toMatch(/^hd3 +web +ran \(\d+ changed\) +ran \(\d+ changed\) +not run/m);
    expect(r.stderr).not.toContain('did not end within --timeout');
    expect(r.stderr).toMatch(/^warning: host hd2: its hold \(DATA\/run\/lock\) ended with its connection, not when the run released it: host hd2 \(127\.0\.0\.1:\d+\): ssh: .+$/m);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^ferry: 1 host failed \(hd2\); configure failed on every host of batch 2\/3 \(hd2\); the rollout stopped, 1 host not reached/);
  });
});
