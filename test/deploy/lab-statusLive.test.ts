import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshLab, type SshLab } from './sshLab.js';
import { labInventory, repo, resetHost, runFerry, webService } from './fixtures.js';
import { serveStore, type StaticServer, writeRelease } from './storeFixture.js';
import { until } from '../helpers/until.js';

interface Row {
  host: string;
  stages: Record<string, string>;
  complete: boolean;
  failure?: { stage: string; message: string };
  running?: { stage: string; by: string };
}

/**
 * ferry status while a deploy runs: configure is marked unfinished before it starts (so that a run stopped
 * half-way shows it), and status printed the host's running configure as "failed …: did not finish: the run
 * that started it was stopped before it completed (interrupted, or the host was lost)".
 */
describe('status while a deploy configures a host (sshd hosts)', () => {
  let dir: string;
  let lab: SshLab;
  let store: string;
  let server: StaticServer;
  const inv = () => join(dir, 'inventory.yaml');
  const status = (...more: string[]) => runFerry('status', '-i', inv(), '-F', lab.sshConfig, ...more);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-statuslive-'));
    store = join(dir, 'store');
    lab = await startSshLab(dir, ['sl1', 'sl2']);
    for (const h of lab.hosts) resetHost(h);
    server = await serveStore(store);
    writeRelease(store, { name: 'live', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
  });
  afterAll(async () => {
    await lab?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the stage running and who holds the host; once the run is stopped, the stage shows failed', async () => {
    const [sl1] = lab.hosts;
    // sl1's configure waits for the test's go-ahead
    writeFileSync(inv(), labInventory(lab.hosts, { ferry_server: server.url }, { sl1: { configure_wait: `touch ${sl1!.root}/waiting; while [ ! -e ${sl1!.root}/go ]; do sleep 0.1; done` } }).text);
    const child = spawn('node', [join(repo, 'bin/ferry.js'), 'deploy', 'live@1', '--store', store, '-i', inv(), '-F', lab.sshConfig], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    await until('sl1 to configure', () => existsSync(join(sl1!.root, 'waiting')));

    const text = await status();
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^sl1 +web +live 1 +1\.0\.0 +\w{12} +done +done +running +no$/m);
    expect(text.stdout).toMatch(new RegExp(`^sl1 web: configure running since \\S+: the host is held by ferry deploy on \\S+ \\(pid ${child.pid}\\), started \\S+$`, 'm'));
    expect(text.stdout).not.toMatch(/did not finish/);
    const json = JSON.parse((await status('--json')).stdout) as { rows: Row[] };
    const row = json.rows.find((r) => r.host === 'sl1')!;
    expect(row.complete).toBe(false);
    expect(row.running).toEqual({ stage: 'configure', by: expect.stringMatching(new RegExp(`^ferry deploy on \\S+ \\(pid ${child.pid}\\), started `)) });
    expect(json.rows.find((r) => r.host === 'sl2')!.running).toBeUndefined();

    // the run stopped: its hold ends, and the same stage is what a stopped run left
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    await until('the hold on sl1 to end', () => !existsSync(join(sl1!.root, 'var/lib/ferry/run/holder')));
    const after = await status();
    expect(after.stdout).toMatch(/^sl1 +web +live 1 +1\.0\.0 +\w{12} +done +done +failed +no$/m);
    expect(after.stdout).toMatch(/^sl1 web: configure failed at \S+: did not finish: /m);
    expect(after.stdout).not.toMatch(/configure running|held by/);
  });
});
