import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy, type DeployReport } from '../../src/deploy/runDeploy.js';
import { labInventory, meetInConfigure, recordingLogger, resetHost, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { snapshotTree } from '../helpers/tree.js';

const statuses = (r: DeployReport) => r.hosts.flatMap((h) => Object.entries(h.services).flatMap(([svc, st]) => Object.entries(st).map(([stage, o]) => `${h.host} ${svc} ${stage} ${o!.status}`)));

describe('ferry deploy over real OpenSSH', () => {
  const ctx = useLab('deploy', ['h1', 'h2', 'h3']);

  const deploy = async (ref: string, extra: Partial<Parameters<typeof runDeploy>[0]> = {}, hostVars = {}) => {
    const log = recordingLogger();
    const { inventory } = labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }, hostVars);
    const report = await runDeploy({ release: await loadRelease(ctx.store, ref), inventory, hosts: inventory.hosts, source: { push: false }, ssh: { configFile: ctx.lab.sshConfig }, log, ...extra });
    return { report, log };
  };

  it('runs every stage on three hosts over one multiplexed connection each, then skips every stage on the second run', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    writeRelease(ctx.store, { name: 'demo', version: '1', services: { web: webService('1.0.0') } });
    const loginsBefore = ctx.lab.hosts.map((h) => ctx.lab.logins(h));
    const first = await deploy('demo@1');
    expect(first.report.ok).toBe(true);
    // ControlMaster: the commands of a host share its connection instead of a handshake each (an idle
    // master may time out on a slow machine and be opened again, so this is no exact count)
    for (const [i, h] of first.report.hosts.entries()) {
      const logins = ctx.lab.logins(ctx.lab.hosts[i]!) - loginsBefore[i]!;
      expect(logins).toBeGreaterThanOrEqual(1);
      expect(h.commands).toBeGreaterThanOrEqual(6);
      expect(logins).toBeLessThanOrEqual(h.commands / 3);
    }
    expect(statuses(first.report).filter((s) => !s.endsWith(' ran'))).toEqual([]);
    expect(statuses(first.report)).toHaveLength(9);
    for (const h of ctx.lab.hosts) {
      expect(readFileSync(join(h.root, 'etc/web/app.conf'), 'utf8')).toBe(`listen 8080\nname ${h.name}\nversion 1.0.0\n`);
      expect(readFileSync(join(h.root, 'srv/static.txt'), 'utf8')).toBe('static 1.0.0\n');
      const fact = JSON.parse(readFileSync(join(h.root, 'var/lib/ferry/facts/web.json'), 'utf8'));
      expect(fact).toMatchObject({ service: 'web', version: '1.0.0', host: h.name });
      expect(Object.keys(fact.stages).sort()).toEqual(['configure', 'install', 'stage']);
      expect(readFileSync(join(h.root, 'systemctl.log'), 'utf8')).toContain('restart web');
    }

    const trees = await Promise.all(ctx.lab.hosts.map((h) => snapshotTree(h.root)));
    const second = await deploy('demo@1');
    expect(second.report.ok).toBe(true);
    expect(statuses(second.report).every((s) => s.endsWith(' skipped'))).toBe(true);
    // one command per host, reading the facts (plus a repeat for each retry a slow machine needed) ...
    const retries = (host: string) => second.log.events.filter((e) => e.type === 'retry' && e.host === host).length;
    expect(second.report.hosts.map((h) => h.commands - retries(h.host))).toEqual([1, 1, 1]);
    // ... and the hosts agree: not a file changed on any of them
    expect(await Promise.all(ctx.lab.hosts.map((h) => snapshotTree(h.root)))).toEqual(trees);
  });

  const dbService = () => ({ version: '5.0', groups: ['web'], files: { 'db.conf': 'db\n' }, configure: [{ file: { src: 'db.conf', dest: '{{ root }}/etc/db.conf' } }] });
  const ran = (r: DeployReport) => statuses(r).filter((s) => s.endsWith(' ran')).map((s) => s.replace(/ ran$/, ''));

  it('re-runs exactly the stages of the service whose version changed, and with --force install only install and the configure it leaves pending', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    writeRelease(ctx.store, { name: 'multi', version: '1', services: { web: webService('1.0.0'), db: dbService() } });
    expect((await deploy('multi@1')).report.ok).toBe(true);

    writeRelease(ctx.store, { name: 'multi', version: '2', services: { web: webService('1.1.0'), db: dbService() } });
    const bumped = await deploy('multi@2');
    expect(bumped.report.ok).toBe(true);
    expect(ran(bumped.report).sort()).toEqual(ctx.lab.hosts.flatMap((h) => ['stage', 'install', 'configure'].map((st) => `${h.name} web ${st}`)).sort());
    expect(bumped.log.events.filter((e) => e.type === 'stage' && e.service === 'web' && e.status === 'start').map((e) => e.reason)).toContain('version 1.0.0 -> 1.1.0');
    for (const h of ctx.lab.hosts) expect(readFileSync(join(h.root, 'srv/static.txt'), 'utf8')).toBe('static 1.1.0\n');

    // install runs everywhere; where it changed something (web's unguarded command), configure follows
    // to activate and restart for it (the fact records the pending activation until configure completes)
    const forced = await deploy('multi@2', { force: ['install'] });
    expect(ran(forced.report).sort()).toEqual(ctx.lab.hosts.flatMap((h) => [`${h.name} db install`, `${h.name} web install`, `${h.name} web configure`]).sort());
    expect(forced.log.events.filter((e) => e.type === 'stage' && e.stage === 'configure' && e.status === 'start').map((e) => e.reason)).toEqual(ctx.lab.hosts.map(() => expect.stringMatching(/^activation pending since .* \(install changed: command\)$/)));
    for (const h of ctx.lab.hosts) expect(readFileSync(join(h.root, 'install.log'), 'utf8')).toBe('1.0.0\n1.1.0\n1.1.0\n');
  });

  it('configures one host at a time with --serial 1, never overlapping', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    writeRelease(ctx.store, { name: 'demo', version: '1', services: { web: webService('1.0.0') } });
    const { report } = await deploy('demo@1', { serial: '1', forks: 10 });
    expect(report.ok).toBe(true);
    const spans = ctx.lab.hosts.map((h) => {
      const [start, end] = readFileSync(join(h.root, 'configure.log'), 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[0]));
      return { host: h.name, start: start!, end: end! };
    });
    spans.sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
    // and without --serial limits they do overlap (every host waits in configure until all are there),
    // so the check above can fail
    for (const h of ctx.lab.hosts) resetHost(h);
    const together = await deploy('demo@1', { serial: '100%', forks: 10 }, meetInConfigure(ctx.lab.hosts, join(ctx.dir, 'barrier')));
    expect(together.report.ok).toBe(true);
    const all = ctx.lab.hosts.map((h) => readFileSync(join(h.root, 'configure.log'), 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[0])));
    const overlaps = all.some((a, i) => all.some((b, j) => i !== j && a[0]! < b[0]! && b[0]! < a[1]!));
    expect(overlaps).toBe(true);
  });

  it('stops the rollout before the next batch when a host fails with --max-fail-percent 0', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    writeRelease(ctx.store, { name: 'demo', version: '1', services: { web: webService('1.0.0') } });
    const { report } = await deploy('demo@1', { serial: '1', maxFailPercent: 0 }, { h1: { fail: 'yes' } });
    expect(report.ok).toBe(false);
    expect(report.stopped).toMatch(/1 of 3 hosts failed/);
    expect(statuses(report).filter((s) => s.includes('configure'))).toEqual(['h1 web configure failed', 'h2 web configure not run', 'h3 web configure not run']);
    expect(report.hosts[0]!.error).toMatch(/host h1, service web, configure command .*exit status 1/);
    for (const h of ctx.lab.hosts.slice(1)) expect(() => readFileSync(join(h.root, 'configure.log'))).toThrow();
  });
});
