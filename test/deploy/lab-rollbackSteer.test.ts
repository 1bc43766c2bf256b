import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshLab, type LabHost, type SshLab } from './sshLab.js';
import { resetHost, runFerry, webService } from './fixtures.js';
import { serveStore, type StaticServer, writeRelease } from './storeFixture.js';

/**
 * rollback chooses the release to go back from by the hosts' facts. A host the release gives no service
 * (another team's, moved out of the group, or compromised) whose facts name the newest release of NAME made
 * the rollback go back to the release the fleet already runs: every host skipped, "rolled back".
 */
describe('rollback: facts of a service the release does not give the host do not choose the release', () => {
  let dir: string;
  let lab: SshLab;
  let store: string;
  let server: StaticServer;
  const digest: Record<string, string> = {};
  const inv = () => join(dir, 'inventory.yaml');
  const writeInv = (web: string[], other: string[]) => {
    const entry = (h: LabHost) => ({ address: h.address, port: h.port, vars: { root: h.root, ferry_data_dir: '{{ root }}/var/lib/ferry' } });
    writeFileSync(inv(), stringify({ vars: { ferry_server: server.url }, groups: { web: { hosts: web, vars: { port: 8080 } }, other: { hosts: other } }, hosts: Object.fromEntries(lab.hosts.map((h) => [h.name, entry(h)])) }));
  };
  const common = () => ['--store', store, '-i', inv(), '-F', lab.sshConfig];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-rbsteer-'));
    store = join(dir, 'store');
    lab = await startSshLab(dir, ['rs1', 'rs2', 'rs3']);
    for (const h of lab.hosts) resetHost(h);
    server = await serveStore(store);
    for (const v of ['1', '2', '3']) digest[v] = writeRelease(store, { name: 'rs', version: v, epoch: `2026-11-0${v}T00:00:00Z`, services: { web: webService(`${v}.0.0`) } });
  });
  afterAll(async () => {
    await lab?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('goes back from what the hosts it deploys to run', async () => {
    // rs3 got release 3 while in group web (a canary), then left the group for another team's
    writeInv(['rs1', 'rs2', 'rs3'], []);
    expect((await runFerry('deploy', 'rs@2', ...common(), '--limit', 'rs1,rs2')).code).toBe(0);
    expect((await runFerry('deploy', 'rs@3', ...common(), '--limit', 'rs3')).code).toBe(0);
    writeInv(['rs1', 'rs2'], ['rs3']);

    const check = await runFerry('rollback', 'rs', ...common(), '--check');
    expect(check.stderr).toContain(`checking the hosts against rs 1 (${digest['1']!.slice(0, 12)}), the release a rollback goes to`);
    const r = await runFerry('rollback', 'rs', ...common(), '--json');
    expect(r.code, r.stderr).toBe(0);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; msg?: string; host?: string; stage?: string; status?: string });
    expect(events.find((e) => e.type === 'info')?.msg).toBe(`rolling back rs to 1 (${digest['1']!.slice(0, 12)})`);
    expect(events.filter((e) => e.type === 'stage' && e.stage === 'configure' && e.status === 'ran').map((e) => e.host).sort()).toEqual(['rs1', 'rs2']);
    const s = JSON.parse((await runFerry('status', '-i', inv(), '-F', lab.sshConfig, '--limit', 'web', '--json')).stdout) as { rows: Array<{ host: string; digest: string; complete: boolean }> };
    expect(s.rows.map((x) => `${x.host} ${x.digest === digest['1'] && x.complete}`)).toEqual(['rs1 true', 'rs2 true']);
  });

  it('says which release it goes back from and which hosts facts chose it (one host can: a canary, or one that claims a release)', async () => {
    // rs1, rs2 run 1 (the test before, whose rollback retired rs3's fact there); rs3, back in group web, runs 3
    writeInv(['rs1', 'rs2', 'rs3'], []);
    expect((await runFerry('deploy', 'rs@3', ...common(), '--limit', 'rs3')).code).toBe(0);
    const from = `going back from rs 3 (${digest['3']!.slice(0, 12)}), the newest release of rs the facts name: on 1 of the 3 hosts that run rs (rs3)`;
    const check = await runFerry('rollback', 'rs', ...common(), '--check');
    expect(check.stderr.split('\n').slice(0, 2)).toEqual([`checking the hosts against rs 2 (${digest['2']!.slice(0, 12)}), the release a rollback goes to; changing nothing`, from]);
    const r = await runFerry('rollback', 'rs', ...common(), '--json');
    expect(r.code, r.stderr).toBe(0);
    const infos = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; msg?: string }).filter((e) => e.type === 'info');
    expect(infos.slice(0, 2).map((e) => e.msg)).toEqual([`rolling back rs to 2 (${digest['2']!.slice(0, 12)})`, from]);
    // --to reads no facts: nothing to say where it goes back from
    const to = await runFerry('rollback', 'rs', '--to', '2', ...common());
    expect(to.code, to.stderr).toBe(0);
    expect(to.stderr).not.toMatch(/going back from/);
  });
});
