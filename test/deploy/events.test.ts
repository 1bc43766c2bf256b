import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeployEventLine } from '../../src/deploy/deployEvents.js';
import { labInventory, repo, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * What a deploy tells the people and programs watching it, on real sshd hosts: every --json event fits
 * the documented schema, and without a terminal the output is summaries and failures, not a line per
 * host and stage.
 */
describe('deploy events and progress on sshd hosts', () => {
  const ctx = useLab('events', ['e1', 'e2', 'e3']);
  let inv: string;
  let digest: string;

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    digest = writeRelease(ctx.store, { name: 'ev', version: '1', services: { web: webService('1.0.0') } });
  });

  const inventory = (hostVars: Record<string, Record<string, unknown>>) => {
    for (const h of ctx.lab.hosts) resetHost(h);
    inv = join(ctx.dir, `inventory-${Object.keys(hostVars).join('-') || 'plain'}.yaml`);
    writeFileSync(inv, labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }, hostVars).text);
    return inv;
  };

  it('validates every --json event of a run with a failing host against the schema', async () => {
    inventory({ e3: { fail: 'yes' } });
    const r = await runFerry('deploy', 'ev@1', '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig, '--json');
    expect(r.code, r.stderr).toBe(72);
    const lines = r.stderr.trim().split('\n');
    // the run's events, then the command's one-line error (not an event: every command ends so)
    expect(lines.pop()).toMatch(/^ferry: 1 host failed \(e3\)/);
    const events = lines.map((l, i) => {
      const parsed = DeployEventLine.safeParse(JSON.parse(l));
      expect(parsed.success, `event ${i + 1}: ${l}\n${parsed.error?.message}`).toBe(true);
      return parsed.data!;
    });
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('run-start');
    expect(types.at(-1)).toBe('run-end');
    const start = events[0] as Extract<typeof events[number], { type: 'run-start' }>;
    expect(start.release.digest).toBe(digest);
    expect(start.hosts).toEqual(['e1', 'e2', 'e3'].map((host) => ({ host, services: [{ name: 'web', version: '1.0.0' }] })));

    // configure one host at a time: batches 1/3, 2/3, 3/3
    expect(events.flatMap((e) => (e.type === 'batch' ? [`${e.index}/${e.total} ${e.hosts.join(',')}`] : []))).toEqual(['1/3 e1', '2/3 e2', '3/3 e3']);
    // every step names what it acts on
    const e1Steps = events.flatMap((e) => (e.type === 'step' && e.host === 'e1' ? [`${e.stage} ${e.step} ${JSON.stringify(e.target)}`] : []));
    const root = ctx.lab.hosts[0]!.root;
    expect(e1Steps).toEqual([
      `stage artifacts {"kind":"artifacts","count":2,"path":"${root}/var/lib/ferry/bundles/${digest}"}`,
      'install command {"kind":"command","program":"sh"}',
      `configure template {"kind":"file","path":"${root}/etc/web/app.conf"}`,
      `configure file {"kind":"file","path":"${root}/srv/static.txt"}`,
      'configure command {"kind":"command","program":"sh"}',
      'configure service {"kind":"service","name":"web"}',
    ]);
    const end = events.at(-1) as Extract<typeof events[number], { type: 'run-end' }>;
    expect(end).toMatchObject({ ok: false, hosts: { total: 3, ok: 2, failed: 1 }, stages: { stage: { ran: 3, failed: 0 }, configure: { ran: 2, failed: 1 } } });
    expect(end.failures).toHaveLength(1);
    expect(end.failures[0]).toMatchObject({ host: 'e3', service: 'web', stage: 'configure', reason: expect.stringContaining('exit status 1') });
    // the report on stdout agrees with the run-end summary
    const report = JSON.parse(r.stdout) as { hosts: Array<{ host: string; error?: string }> };
    expect(report.hosts.filter((h) => h.error).map((h) => h.host)).toEqual(['e3']);
  });

  it('without a terminal prints summaries while hosts work, one line per failure, and per-stage lines only with -v', async () => {
    // e1's configure waits until the runner has printed a summary showing it at work: the summary
    // comes from the interval, not from an event, and the test need not guess how long anything takes
    const marker = join(ctx.dir, 'seen-summary');
    // (gives up after 10 minutes: a hang detector, and then the marker check below fails)
    inventory({ e1: { configure_wait: `n=0; until [ -e ${marker} ] || [ $n -ge 12000 ]; do n=$((n + 1)); sleep 0.05; done` }, e3: { fail: 'yes' } });
    const child = spawn('node', [join(repo, 'bin/ferry.js'), 'deploy', 'ev@1', '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig, '--force', 'all', '--progress-interval', '0.1']);
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => {
      stderr += b;
      if (/^progress: stage 3\/3 done; install 3\/3 done; configure 0\/3 done, 1 running; /m.test(stderr)) writeFileSync(marker, '');
    });
    const code = await new Promise((done) => child.on('close', done));
    expect(code, stderr).toBe(72);
    const lines = stderr.trim().split('\n');
    expect(existsSync(marker)).toBe(true);
    for (const l of lines) expect(l).toMatch(/^(progress: |FAILED |ferry: )/);
    expect(lines.filter((l) => l.startsWith('FAILED '))).toEqual([expect.stringMatching(/^FAILED e3 web configure: host e3, service web, configure command .*: exit status 1$/)]);
    expect(lines.filter((l) => l.startsWith('progress: ')).at(-1)).toMatch(/^progress: stage 3\/3 done; install 3\/3 done; configure 2\/3 done, 1 failed; \d+:\d\d elapsed$/);
    // the final report: per-stage counts, then the failure with its reason
    expect(stdout).toMatch(/^STAGE +RAN +SKIPPED +FAILED +NOT RUN\nstage +3 +0 +0 +0\ninstall +3 +0 +0 +0\nconfigure +2 +0 +1 +0\n$/m);
    expect(stdout).toMatch(/^e3 web configure: failed: host e3, service web, configure command .*: exit status 1$/m);

    const verbose = await runFerry('deploy', 'ev@1', '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig, '-v');
    expect(verbose.code).toBe(72);
    for (const h of ['e1', 'e2']) for (const s of ['stage', 'install', 'configure']) expect(verbose.stderr).toMatch(new RegExp(`^${h} web ${s}: skipped \\(`, 'm'));
    // a failure is still one line, the same as without -v
    expect(verbose.stderr.match(/^FAILED e3 web configure: .*$/gm)).toHaveLength(1);
    expect(verbose.stderr).not.toMatch(/^e3 web configure: failed/m);
  });
});
