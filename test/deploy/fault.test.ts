import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy, type DeployReport } from '../../src/deploy/runDeploy.js';
import { labInventory, recordingLogger, resetHost, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

const byHost = (r: DeployReport, host: string) => Object.fromEntries(Object.entries(r.hosts.find((h) => h.host === host)!.services.web!).map(([k, v]) => [k, v!.status]));

describe('a host that drops out during the stage stage', () => {
  // the server holds every artifact but the first until h2 is gone, so h2 goes away in the middle of its
  // stage stage however fast or slow this machine is today
  let openGate!: () => void;
  const ctx = useLab('fault', ['h1', 'h2', 'h3'], { holdAfterFirst: new Promise<void>((r) => (openGate = r)) });

  it('fails that host only; after it is back a re-run does only the missing work', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    const svc = webService('1.0.0');
    svc.files = { ...svc.files, 'a.bin': 'a'.repeat(1000), 'b.bin': 'b'.repeat(1000), 'c.bin': 'c'.repeat(1000) };
    const digest = writeRelease(ctx.store, { name: 'demo', version: '1', services: { web: svc } });
    const { inventory } = labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url });
    const h2 = ctx.lab.hosts[1]!;
    let killed: Promise<void> | undefined;
    let killedAt = Infinity;
    const log = recordingLogger((e) => {
      if (e.type === 'stage' && e.host === 'h2' && e.stage === 'stage' && e.status === 'start') {
        // stop h2's sshd as soon as its first artifact is complete (the rest are held), then let the
        // other hosts go on; should h2 fail on its own first, let them go on too
        const dir = join(h2.root, 'var/lib/ferry/bundles', digest, 'files/web');
        const h2Failed = () => log.events.some((x) => x.host === 'h2' && x.status === 'failed');
        killed = (async () => {
          while (!(existsSync(dir) && readdirSync(dir).some((f) => !f.includes('ferry-part'))) && !h2Failed()) await new Promise((r) => setTimeout(r, 50));
          killedAt = log.events.length;
          await ctx.lab.stop(h2);
          openGate();
        })();
      }
    });
    const release = await loadRelease(ctx.store, 'demo@1');
    const opts = { release, inventory, hosts: inventory.hosts, source: { push: false as const }, ssh: { configFile: ctx.lab.sshConfig }, retry: { retries: 2, delayMs: 200 } };
    const first = await runDeploy({ ...opts, log });
    await killed;

    expect(first.ok).toBe(false);
    expect(byHost(first, 'h1')).toEqual({ stage: 'ran', install: 'ran', configure: 'ran' });
    expect(byHost(first, 'h3')).toEqual({ stage: 'ran', install: 'ran', configure: 'ran' });
    expect(byHost(first, 'h2')).toEqual({ stage: 'failed', install: 'not run', configure: 'not run' });
    expect(first.hosts[1]!.error).toMatch(/host h2 .*ssh/);
    // the stage was tried again as often as the policy says, then given up
    expect(log.events.slice(killedAt).filter((e) => e.type === 'retry' && e.host === 'h2').map((e) => e.attempt)).toEqual([1, 2]);
    expect(existsSync(join(h2.root, 'var/lib/ferry/facts/web.json'))).toBe(false);
    const staged = readdirSync(join(h2.root, 'var/lib/ferry/bundles', digest, 'files/web')).filter((f) => !f.includes('ferry-part'));
    expect(staged).toHaveLength(1);

    await ctx.lab.start(h2);
    ctx.server.requests.length = 0;
    const again = await runDeploy({ ...opts, log: recordingLogger() });
    expect(again.ok).toBe(true);
    expect(byHost(again, 'h1')).toEqual({ stage: 'skipped', install: 'skipped', configure: 'skipped' });
    expect(byHost(again, 'h3')).toEqual({ stage: 'skipped', install: 'skipped', configure: 'skipped' });
    expect(byHost(again, 'h2')).toEqual({ stage: 'ran', install: 'ran', configure: 'ran' });
    // only what h2 was missing crossed the wire
    expect(ctx.server.requests.length).toBe(5 - staged.length);
    expect(readFileSync(join(h2.root, 'etc/web/app.conf'), 'utf8')).toContain('name h2');
  });
});
