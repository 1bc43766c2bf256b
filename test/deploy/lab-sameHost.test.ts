import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshLab, type LabHost, type SshLab } from './sshLab.js';
import { resetHost, runFerry, webService } from './fixtures.js';
import { serveStore, type StaticServer, writeRelease } from './storeFixture.js';

/**
 * An inventory that names one host twice (a copy-pasted entry, an old name kept as an alias): the run held the
 * host under the first name and found it "locked by ferry deploy on … (pid N)", its own pid, under the second
 * ("wait for that run to finish"), and a run under either name overwrote the other's facts.
 */
describe('one host under two inventory names', () => {
  let dir: string;
  let lab: SshLab;
  let store: string;
  let server: StaticServer;
  const entry = (h: LabHost, address = h.address) => ({ address, port: h.port, vars: { root: h.root, ferry_data_dir: '{{ root }}/var/lib/ferry' } });
  const writeInv = (hosts: Record<string, unknown>) => {
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, stringify({ vars: { ferry_server: server.url }, groups: { web: { hosts: Object.keys(hosts), vars: { port: 8080 } } }, hosts }));
    return file;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-samehost-'));
    store = join(dir, 'store');
    lab = await startSshLab(dir, ['sh1', 'sh2']);
    server = await serveStore(store);
    writeRelease(store, { name: 'same', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
  });
  afterAll(async () => {
    await lab?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the same address, port and data dir under two names: refused in one line (exit 65) before any host is touched', async () => {
    for (const h of lab.hosts) resetHost(h);
    const [sh1, sh2] = lab.hosts as [LabHost, LabHost];
    const inv = writeInv({ sh1: entry(sh1), 'sh1-old': entry(sh1), sh2: entry(sh2) });
    for (const cmd of [['deploy', 'same@1'], ['rollback', 'same', '--to', '1']]) {
      const r = await runFerry(...cmd, '--store', store, '-i', inv, '-F', lab.sshConfig);
      expect(r.code, r.stderr).toBe(65);
      // rollback says first which release it goes to (`rolling back same to 1 (…)`), then the refusal
      const lines = r.stderr.trim().split('\n');
      expect(lines.filter((l) => l.startsWith('ferry: ')), r.stderr).toHaveLength(1);
      expect(lines.length, r.stderr).toBe(cmd[0] === 'rollback' ? 2 : 1);
      expect(lines.at(-1)).toMatch(new RegExp(`^ferry: .*inventory\\.yaml: sh1 and sh1-old \\(127\\.0\\.0\\.1 port ${sh1.port}, data dir ${sh1.root}/var/lib/ferry\\) name one host twice: `));
      expect(r.stdout).toBe('');
      expect(lab.logins(sh1) + lab.logins(sh2)).toBe(0);
      expect(existsSync(join(sh2.root, 'var/lib/ferry'))).toBe(false);
    }
    // one name with --limit: deployed as usual
    const one = await runFerry('deploy', 'same@1', '--store', store, '-i', inv, '-F', lab.sshConfig, '--limit', 'sh1,sh2');
    expect(one.code, one.stderr).toBe(0);
  });

  it('names that reach one host through an ssh_config alias: the second is named as the first again, not as locked by another run', async () => {
    for (const h of lab.hosts) resetHost(h);
    const [sh1, sh2] = lab.hosts as [LabHost, LabHost];
    // the operator's ssh_config maps a name of its own to sh1's address: ferry cannot see it is the same host
    const config = join(dir, 'ssh_config_alias');
    writeFileSync(config, `Host sh1-alias\n  HostName ${sh1.address}\n${readFileSync(lab.sshConfig, 'utf8')}`);
    const inv = writeInv({ sh1: entry(sh1), 'sh1-again': entry(sh1, 'sh1-alias'), sh2: entry(sh2) });
    const r = await runFerry('deploy', 'same@1', '--store', store, '-i', inv, '-F', config, '--json');
    expect(r.code, r.stderr).toBe(72);
    const end = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; failures?: Array<{ host: string; reason: string }> })
      .find((e) => e.type === 'run-end')!;
    // whichever name took the lock first, the other is the one refused, naming it
    expect(end.failures).toHaveLength(1);
    const [f] = end.failures!;
    const other = f!.host === 'sh1' ? 'sh1-again' : 'sh1';
    expect(f!.reason).toBe(`host ${f!.host} is host ${other} again: this run holds its lock (${sh1.root}/var/lib/ferry/run/lock) already; two names of the inventory reach one host (through DNS or an ssh_config): keep one name per host`);
    expect(f!.reason).not.toMatch(/wait for that run/);
  });
});
