import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectStatus } from '../../src/deploy/collectStatus.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { type DeployOptions, runDeploy, type DeployReport } from '../../src/deploy/runDeploy.js';
import { ferry, run } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { labInventory, recordingLogger, resetHost, useLab, webService } from './fixtures.js';
import type { FixtureRelease, FixtureService } from './storeFixture.js';
import { writeRelease } from './storeFixture.js';

const statuses = (r: DeployReport) => r.hosts.flatMap((h) => Object.entries(h.services).flatMap(([svc, st]) => Object.entries(st).map(([stage, o]) => `${h.host} ${svc} ${stage} ${o!.status}`)));
const ran = (r: DeployReport) => statuses(r).filter((s) => s.endsWith(' ran')).map((s) => s.replace(/ ran$/, ''));
const fact = (root: string, service: string, dir = 'var/lib/ferry/facts') => JSON.parse(readFileSync(join(root, dir, `${service}.json`), 'utf8'));

describe('deploys an operator can trust, on sshd hosts', () => {
  const ctx = useLab('trust', ['t1', 't2']);

  const deploy = async (ref: string, extra: Partial<DeployOptions> = {}, vars: Record<string, unknown> = {}, hostVars: Record<string, Record<string, unknown>> = {}) => {
    const log = recordingLogger();
    const { inventory, text } = labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url, ...vars }, hostVars);
    const report = await runDeploy({ release: await loadRelease(ctx.store, ref), inventory, hosts: inventory.hosts, source: { push: false }, ssh: { configFile: ctx.lab.sshConfig }, log, ...extra });
    return { report, log, text };
  };
  const writeInventory = (text: string) => {
    const file = join(ctx.dir, `inventory-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, text);
    return file;
  };

  it('does not re-run configure when only the server address or ssh options change, unless a template uses them', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    writeRelease(ctx.store, { name: 'conn', version: '1', services: { web: webService('1.0.0') } });
    expect((await deploy('conn@1')).report.ok).toBe(true);
    // the same server, spelled differently, and another ssh option: nothing a host runs changes
    const moved = await deploy('conn@1', {}, { ferry_server: ctx.server.url.replace('127.0.0.1', 'localhost'), ssh_options: { ServerAliveCountMax: 4 } });
    expect(moved.report.ok).toBe(true);
    expect(ran(moved.report)).toEqual([]);
    expect(moved.report.hosts.map((h) => h.commands)).toEqual([1, 1]);

    const svc = webService('1.0.0');
    svc.files = { ...svc.files, 'app.conf.j2': 'fetch from {{ ferry_server }}\n' };
    writeRelease(ctx.store, { name: 'conn', version: '2', services: { web: svc } });
    expect((await deploy('conn@2')).report.ok).toBe(true);
    const named = await deploy('conn@2', {}, { ferry_server: ctx.server.url.replace('127.0.0.1', 'localhost') });
    expect(ran(named.report)).toEqual(['t1 web configure', 't2 web configure']);
    expect(readFileSync(join(ctx.lab.hosts[0]!.root, 'etc/web/app.conf'), 'utf8')).toBe(`fetch from ${ctx.server.url.replace('127.0.0.1', 'localhost')}\n`);
  });

  it('status tells the truth after a stopped rollout: per-stage state, the failure, --expect fails', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    const d1 = writeRelease(ctx.store, { name: 'truth', version: '1', services: { web: webService('1.0.0') } });
    expect((await deploy('truth@1')).report.ok).toBe(true);
    // a new bundle of the same service version (a changed file), stopped at t1's failing configure
    const svc = webService('1.0.0');
    svc.files = { ...svc.files, 'static.txt': 'static, rebuilt\n' };
    const d2 = writeRelease(ctx.store, { name: 'truth', version: '2', services: { web: svc } });
    const stopped = await deploy('truth@2', { serial: '1', maxFailPercent: 0 }, {}, { t1: { fail: 'yes' } });
    expect(stopped.report.stopped).toBeDefined();

    const { inventory } = labInventory(ctx.lab.hosts, {});
    const status = await collectStatus({ inventory, hosts: inventory.hosts, ssh: { configFile: ctx.lab.sshConfig } });
    expect(status.rows.map((r) => ({ host: r.host, digest: r.digest, stages: r.stages, complete: r.complete }))).toEqual([
      { host: 't1', digest: d2, stages: { stage: 'done', install: 'done', configure: 'failed' }, complete: false },
      { host: 't2', digest: d2, stages: { stage: 'done', install: 'done', configure: 'outdated' }, complete: false },
    ]);
    expect(status.rows[0]!.failure).toMatchObject({ stage: 'configure', step: 'command', digest: d2, message: expect.stringMatching(/exit status 1/) });

    const inv = writeInventory(labInventory(ctx.lab.hosts, {}).text);
    const cli = await ferry(['status', '-i', inv, '-F', ctx.lab.sshConfig, '--expect', d2]);
    expect(cli.code).toBe(72);
    expect(cli.stderr).toContain(`t1/web runs ${d2.slice(0, 12)} (incomplete: configure failed)`);
    expect(cli.stderr).toContain(`t2/web runs ${d2.slice(0, 12)} (incomplete: configure outdated)`);
    expect(cli.stdout).toMatch(/t1\s+web\s+truth 2\s+1\.0\.0\s+[0-9a-f]{12}\s+done\s+done\s+failed\s+no/);
    expect(cli.stdout).toMatch(/t1 web: configure command failed at \S+: host t1, service web, configure command .* exit status 1/);
    expect((await ferry(['status', '-i', inv, '-F', ctx.lab.sshConfig, '--expect', d1])).code).toBe(72);

    // fixed, the same command completes the rollout; the failure is cleared
    const fixed = await deploy('truth@2', { serial: '1', maxFailPercent: 0 });
    expect(fixed.report.ok).toBe(true);
    expect(fact(ctx.lab.hosts[0]!.root, 'web').failure).toBeUndefined();
    expect((await ferry(['status', '-i', inv, '-F', ctx.lab.sshConfig, '--expect', d2])).code).toBe(0);
  });

  it("status finds facts in the inventory's ferry_facts_dir, and Ansible's setup shows them under ansible_local", async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    const digest = writeRelease(ctx.store, { name: 'where', version: '1', services: { web: webService('1.0.0') } });
    const vars = { ferry_facts_dir: '{{ root }}/srv/ferry-facts' };
    expect((await deploy('where@1', {}, vars)).report.ok).toBe(true);
    expect(fact(ctx.lab.hosts[0]!.root, 'web', 'srv/ferry-facts').digest).toBe(digest);
    const inv = writeInventory(labInventory(ctx.lab.hosts, vars).text);
    const status = await ferry(['status', '-i', inv, '-F', ctx.lab.sshConfig, '--expect', digest]);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/t2\s+web\s+where 1\s+1\.0\.0/);

    const factPath = join(ctx.lab.hosts[0]!.root, 'etc/ansible/facts.d');
    const setup = await run('ansible', ['localhost', '-i', 'localhost,', '-c', 'local', '-m', 'setup', '-a', `fact_path=${factPath} filter=ansible_local`], { env: { ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3' } });
    expect(setup.code, setup.stderr).toBe(0);
    const facts = JSON.parse(setup.stdout.slice(setup.stdout.indexOf('{')));
    expect(facts.ansible_facts.ansible_local.ferry_web).toMatchObject({ service: 'web', host: 't1', digest, version: '1.0.0', release: { name: 'where', version: '1' } });
  });

  it('moves and runs only what changed: an unchanged service skips every stage, nothing on the host is fetched again, old releases are pruned', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    const db = (): FixtureService => ({ version: '5.0', groups: ['web'], files: { 'db.conf': 'db\n' }, configure: [{ file: { src: 'db.conf', dest: '{{ root }}/etc/db.conf' } }, { command: { run: 'echo run >> {{ root }}/db-configure.log' } }] });
    // like an apt repository's Release file: shared by both services, its date changes with every release
    const release = (version: string, web: string): FixtureRelease => ({
      name: 'only',
      version,
      services: { web: webService(web), db: db() },
      extra: [{ path: 'apt/dists/only/Release', content: `Date: release ${version}\n`, kind: 'apt-index', services: ['web', 'db'] }],
    });
    const digests = ['1', '2', '3', '4'].map((v) => writeRelease(ctx.store, release(v, v === '1' ? '1.0.0' : `1.${v}.0`)));
    expect((await deploy('only@1')).report.ok).toBe(true);

    ctx.server.requests.length = 0;
    const second = await deploy('only@2');
    expect(second.report.ok).toBe(true);
    expect(ran(second.report).sort()).toEqual(['t1 web configure', 't1 web install', 't1 web stage', 't2 web configure', 't2 web install', 't2 web stage']);
    // only the new content crossed: the changed file and the new index, once per host
    expect(ctx.server.requests.map((p) => p.replace(/^\/bundles\/[0-9a-f]{64}\//, '')).sort()).toEqual(['apt/dists/only/Release', 'apt/dists/only/Release', 'files/web/static.txt', 'files/web/static.txt']);
    for (const h of ctx.lab.hosts) {
      expect(readFileSync(join(h.root, 'db-configure.log'), 'utf8')).toBe('run\n');
      // the skipped service still finds its files in the new release's tree
      expect(readFileSync(join(h.root, 'var/lib/ferry/bundles', digests[1]!, 'files/db/db.conf'), 'utf8')).toBe('db\n');
      expect(fact(h.root, 'db').digest).toBe(digests[1]);
    }
    const forced = await deploy('only@2', { services: ['db'], force: ['configure'] });
    expect(forced.report.ok).toBe(true);
    expect(ran(forced.report)).toEqual(['t1 db configure', 't2 db configure']);

    expect((await deploy('only@3')).report.ok).toBe(true);
    expect((await deploy('only@4')).report.ok).toBe(true);
    for (const h of ctx.lab.hosts) {
      // the current and the previous release stay on the host; blobs only they used are gone
      expect(readdirSync(join(h.root, 'var/lib/ferry/bundles')).filter((n) => !n.startsWith('.')).sort()).toEqual([digests[2]!, digests[3]!].sort());
      const blobs = readdirSync(join(h.root, 'var/lib/ferry/blobs/sha256'));
      expect(blobs).toHaveLength(new Set([...[2, 3].flatMap((i) => JSON.parse(readFileSync(join(ctx.store, 'bundles', digests[i]!, 'manifest.json'), 'utf8')).entries.map((e: { sha256: string }) => e.sha256))]).size);
    }
    // with ferry_keep_releases 3, going back to release 1 keeps 3 and 4 as well
    const keepMore = await deploy('only@1', {}, { ferry_keep_releases: 3 });
    expect(keepMore.report.ok).toBe(true);
    expect(readdirSync(join(ctx.lab.hosts[0]!.root, 'var/lib/ferry/bundles')).filter((n) => !n.startsWith('.')).sort()).toEqual([digests[0]!, digests[2]!, digests[3]!].sort());
  });

  it('locks each host for a run: a second runner is refused naming the holder, or waits with --wait-lock', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    const svc = webService('1.0.0');
    // the first run's configure waits for the test's go-ahead, holding the hosts meanwhile
    svc.configure = [{ command: { run: 'touch {{ root }}/waiting; while [ ! -e {{ root }}/go ]; do sleep 0.1; done' } }];
    writeRelease(ctx.store, { name: 'lock', version: '1', services: { web: svc } });
    const first = deploy('lock@1', { serial: '100%' });
    const t1 = ctx.lab.hosts[0]!;
    await until('the first run to reach configure', () => existsSync(join(t1.root, 'waiting')));

    const refused = await deploy('lock@1', { retry: { retries: 0, delayMs: 0 } });
    expect(refused.report.ok).toBe(false);
    expect(refused.report.hosts[0]!.error).toMatch(new RegExp(`^host t1 is locked by ferry deploy on \\S+ \\(pid ${process.pid}\\), started \\d{4}-\\d\\d-\\d\\dT\\S+; wait for that run to finish, or pass --wait-lock SECONDS`));

    const waiting = deploy('lock@1', { waitLockSeconds: 600, force: ['configure'] });
    for (const h of ctx.lab.hosts) writeFileSync(join(h.root, 'go'), '');
    expect((await first).report.ok).toBe(true);
    const after = await waiting;
    expect(after.report.ok).toBe(true);
    expect(ran(after.report)).toEqual(['t1 web configure', 't2 web configure']);
  });

  it("a killed runner's remote work stops, its lock is released, and the next run removes its control folder", async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    const svc = webService('1.0.0');
    // a long install, as apt-get or pip can be; the test kills the runner while it runs
    svc.install = [{ command: { run: 'sh -c \'echo $$ > {{ root }}/sleeper.pid; exec sleep 3607\'' } }];
    writeRelease(ctx.store, { name: 'killed', version: '1', services: { web: svc } });
    const inv = writeInventory(labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }).text);
    const runner = spawn(process.execPath, [join(import.meta.dirname, '../../bin/ferry.js'), 'deploy', 'killed@1', '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig], { stdio: 'ignore' });
    const pids = ctx.lab.hosts.map((h) => join(h.root, 'sleeper.pid'));
    await until('the install to start on both hosts', () => pids.every((p) => existsSync(p) && readFileSync(p, 'utf8').trim() !== ''));
    const sleepers = pids.map((p) => Number(readFileSync(p, 'utf8')));
    runner.kill('SIGKILL');
    await new Promise((r) => runner.once('exit', r));
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // the hosts notice the runner is gone and stop its work
    await until('the remote install commands to stop', () => sleepers.every((p) => !alive(p)));
    for (const h of ctx.lab.hosts) {
      await until('the lock to be released', async () => (await run('flock', ['-n', join(h.root, 'var/lib/ferry/run/lock'), 'true'])).code === 0);
      expect(existsSync(join(h.root, 'var/lib/ferry/run/holder'))).toBe(false);
    }
    const leftover = readdirSync(tmpdir()).filter((n) => n.startsWith(`fy-${runner.pid}-`));
    expect(leftover).toHaveLength(1);

    // the next run cleans the runner's folder, and completes the work
    for (const p of pids) writeFileSync(p, '');
    svc.install = [{ command: { run: 'echo done > {{ root }}/installed' } }];
    writeRelease(ctx.store, { name: 'killed', version: '2', services: { web: svc } });
    const next = await deploy('killed@2');
    expect(next.report.ok).toBe(true);
    expect(existsSync(join(tmpdir(), leftover[0]!))).toBe(false);
    expect((await run('pgrep', ['-f', leftover[0]!])).code).toBe(1);
  });
});
