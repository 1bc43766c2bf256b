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
  stage: string;
  run: boolean;
  reason: string;
  held?: string;
}

/**
 * ferry plan while a deploy runs: configure is marked unfinished before it starts, and plan said
 * "configure did not finish (started …), running again" of a host whose lock that live run held, where a
 * deploy started then would be refused.
 */
describe('plan while a deploy configures a host (sshd hosts)', () => {
  let dir: string;
  let lab: SshLab;
  let store: string;
  let server: StaticServer;
  const inv = () => join(dir, 'inventory.yaml');
  const plan = (...more: string[]) => runFerry('plan', 'plive@1', '--store', store, '-i', inv(), '-F', lab.sshConfig, ...more);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-planlive-'));
    store = join(dir, 'store');
    lab = await startSshLab(dir, ['pl1', 'pl2']);
    for (const h of lab.hosts) resetHost(h);
    server = await serveStore(store);
    writeRelease(store, { name: 'plive', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
  });
  afterAll(async () => {
    await lab?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says the host is being deployed by the run that holds it; once that run is stopped, that the stage did not finish', async () => {
    const [pl1] = lab.hosts;
    writeFileSync(inv(), labInventory(lab.hosts, { ferry_server: server.url }, { pl1: { configure_wait: `touch ${pl1!.root}/waiting; while [ ! -e ${pl1!.root}/go ]; do sleep 0.1; done` } }).text);
    const child = spawn('node', [join(repo, 'bin/ferry.js'), 'deploy', 'plive@1', '--store', store, '-i', inv(), '-F', lab.sshConfig], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    await until('pl1 to configure', () => existsSync(join(pl1!.root, 'waiting')));

    const text = await plan();
    expect(text.code, text.stderr).toBe(0);
    const holder = `ferry deploy on \\S+ \\(pid ${child.pid}\\), started \\S+`;
    expect(text.stdout).toMatch(new RegExp(`^pl1 +web +configure +held +configure running now \\(since \\S+\\): the host is being deployed by ${holder}$`, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^pl1 +web +install +held +the host is being deployed by ${holder}; a deploy now is refused there until that run ends$`, 'm'));
    // the run holds every host it deploys to, the one its batches have not reached too
    expect(text.stdout).toMatch(new RegExp(`^pl2 +web +configure +held +the host is being deployed by ${holder}; `, 'm'));
    expect(text.stdout).not.toMatch(/did not finish/);
    expect(text.stdout).toMatch(/^0 of 6 stages would run, 2 host\(s\) held by a running deploy /m);
    const json = JSON.parse((await plan('--json')).stdout) as { rows: Row[] };
    const row = json.rows.find((r) => r.host === 'pl1' && r.stage === 'configure')!;
    expect(row.run).toBe(false);
    expect(row.held).toMatch(new RegExp(`^${holder}$`));

    // the run stopped: its hold ends, and the stage is what a stopped run left, to run again
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    await until('the hold on pl1 to end', () => !existsSync(join(pl1!.root, 'var/lib/ferry/run/holder')));
    const after = await plan();
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^pl1 +web +configure +run +configure did not finish \(started \S+\), running again$/m);
    expect(after.stdout).not.toMatch(/held|being deployed/);
  });
});
