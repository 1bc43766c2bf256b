import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshLab, type SshLab } from '../deploy/sshLab.js';
import { labInventory, resetHost, runFerry, webService } from '../deploy/fixtures.js';
import { serveStore, type StaticServer, writeRelease } from '../deploy/storeFixture.js';

/**
 * A rollout of release 2 stopped in its configure batches (a failed health check, --max-fail-percent 0):
 * every host has installed 2 (its fact names 2's digest), but the hosts configure never reached still
 * run release 1 (their configure fact, and the live trees, are 1's). `ferry gc -i` must keep release 1
 * for them, and `ferry status` must say what they run.
 */
describe('gc and status after a rollout stopped between install and configure, on sshd hosts', () => {
  let dir: string;
  let lab: SshLab;
  let store: string;
  let server: StaticServer;
  let d1 = '';
  let d2 = '';
  const inv = () => join(dir, 'inventory.yaml');
  const writeInv = (hv: Record<string, Record<string, unknown>> = {}) => writeFileSync(inv(), labInventory(lab.hosts, { ferry_server: server.url }, hv).text);
  const common = () => ['--store', store, '-i', inv(), '-F', lab.sshConfig];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-gcstopped-'));
    store = join(dir, 'store');
    lab = await startSshLab(dir, ['g1', 'g2', 'g3']);
    for (const h of lab.hosts) resetHost(h);
    server = await serveStore(store);
    d1 = writeRelease(store, { name: 'fleet', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const w2 = webService('2.0.0');
    w2.configure = [...w2.configure!.slice(0, 3), { service: { name: 'web', systemctl: '{{ root }}/bin/systemctl', check: 'test "{{ health | default(\'ok\') }}" = ok', check_tries: 1 } }];
    d2 = writeRelease(store, { name: 'fleet', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: w2 } });
  });
  afterAll(async () => {
    await lab?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the release the unconfigured hosts still run, and status names it', async () => {
    writeInv();
    const first = await runFerry('deploy', 'fleet@1', ...common());
    expect(first.code, first.stderr).toBe(0);
    writeInv({ g1: { health: 'bad' } });
    const stopped = await runFerry('deploy', 'fleet@2', ...common(), '--serial', '1', '--max-fail-percent', '0');
    expect(stopped.code).toBe(72);
    expect(stopped.stdout).toMatch(/configure not run on 2 \(g2 web, g3 web\)/);

    // every host's fact names release 2 (installed everywhere), but no host completed its configure:
    // status says which release each one was last configured for
    const st = await runFerry('status', '-i', inv(), '-F', lab.sshConfig, '--json');
    const rows = (JSON.parse(st.stdout) as { rows: Array<{ host: string; digest: string; configured?: string }> }).rows;
    expect(rows.map((r) => [r.host, r.digest, r.configured])).toEqual([
      ['g1', d2, d1],
      ['g2', d2, d1],
      ['g3', d2, d1],
    ]);
    const text = await runFerry('status', '-i', inv(), '-F', lab.sshConfig, '--expect', d2);
    expect(text.code).toBe(72);
    expect(text.stderr).toContain(`g2/web runs ${d2.slice(0, 12)} (incomplete: configure outdated); its last completed configure was for ${d1.slice(0, 12)}`);

    const table = await runFerry('status', '-i', inv(), '-F', lab.sshConfig);
    expect(table.stdout).toContain(`g3 web: its last completed configure was for ${d1.slice(0, 12)}, not ${d2.slice(0, 12)}\n`);

    const gc = await runFerry('gc', '--store', store, '--keep', '1', '-i', inv(), '-F', lab.sshConfig, '--json');
    expect(gc.code, gc.stderr).toBe(0);
    const list = await runFerry('list', '--store', store);
    expect(list.stdout).toMatch(/^fleet +1 /m);
    expect(list.stdout).toMatch(/^fleet +2 /m);

    // and rollback still has release 1 to go back to
    writeInv();
    const back = await runFerry('rollback', 'fleet', ...common());
    expect(back.code, back.stderr).toBe(0);
    const after = await runFerry('status', '-i', inv(), '-F', lab.sshConfig, '--expect', d1);
    expect(after.code, after.stdout + after.stderr).toBe(0);
  }, 240000);

  it('a forced configure that failed its health check is run again by the plain command, not skipped as done', async () => {
    for (const h of lab.hosts) resetHost(h);
    writeInv();
    const first = await runFerry('deploy', 'fleet@2', ...common());
    expect(first.code, first.stderr).toBe(0);
    writeInv({ g2: { health: 'bad' } });
    const forced = await runFerry('deploy', 'fleet@2', ...common(), '--force', 'configure', '--limit', 'g2');
    expect(forced.code).toBe(72);
    const failed = await runFerry('status', '-i', inv(), '-F', lab.sshConfig, '--expect', d2);
    expect(failed.code).toBe(72);
    expect(failed.stderr).toContain('g2/web runs');

    // the cause is fixed: the same deploy without --force must finish what failed
    writeInv();
    const plan = await runFerry('plan', 'fleet@2', ...common(), '--limit', 'g2');
    expect(plan.stdout).toMatch(/^g2 +web +configure +run +configure failed at \S+, running again$/m);
    const again = await runFerry('deploy', 'fleet@2', ...common(), '--json');
    expect(again.code, again.stderr).toBe(0);
    const ran = again.stderr.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'stage' && e.status === 'ran');
    expect(ran.map((e) => `${e.host} ${e.stage}`)).toEqual(['g2 configure']);
    const ok = await runFerry('status', '-i', inv(), '-F', lab.sshConfig, '--expect', d2);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  }, 240000);

  it('once every host runs a release completely, gc -i keeps only that one, even where its stages were done by an older bundle', async () => {
    for (const h of lab.hosts) resetHost(h);
    writeInv();
    expect((await runFerry('deploy', 'fleet@1', ...common())).code).toBe(0);
    // release 3 carries web exactly as release 1 did: every stage is skipped, the facts name release 3
    const d3 = writeRelease(store, { name: 'fleet', version: '3', epoch: '2026-11-03T00:00:00Z', services: { web: webService('1.0.0') } });
    const settled = await runFerry('deploy', 'fleet@3', ...common(), '--json');
    expect(settled.code, settled.stderr).toBe(0);
    expect(settled.stderr.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'stage' && e.status === 'ran')).toEqual([]);
    expect((await runFerry('status', '-i', inv(), '-F', lab.sshConfig, '--expect', d3)).code).toBe(0);
    const gc = await runFerry('gc', '--store', store, '--keep', '1', '-i', inv(), '-F', lab.sshConfig);
    expect(gc.code, gc.stderr).toBe(0);
    const list = await runFerry('list', '--store', store);
    expect(list.stdout.split('\n').filter((l) => l.startsWith('fleet')).map((l) => l.split(/ +/)[1])).toEqual(['3']);
  }, 240000);
});
