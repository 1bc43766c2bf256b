import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deployOutput } from '../../src/deploy/output/deployOutput.js';
import { deployTable } from '../../src/deploy/deployTable.js';
import { DEPLOY_EVENTS_FORMAT } from '../../src/deploy/deployEvents.js';
import type { DeployReport } from '../../src/deploy/runDeploy.js';

function stream(isTTY: boolean, rows = 24) {
  const chunks: string[] = [];
  return { chunks, s: { isTTY, rows, write: (c: string) => chunks.push(c) } as unknown as NodeJS.WriteStream };
}

/** The run-start event of a run on these hosts, each with the service web. */
const runStart = (hosts: string[]) => ({ format: DEPLOY_EVENTS_FORMAT, release: { name: 'demo', version: '1', digest: 'ab'.repeat(32) }, stages: ['stage', 'install', 'configure'], forks: 10, serial: '1', hosts: hosts.map((host) => ({ host, services: [{ name: 'web', version: '1.0' }] })) });
const names = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);

describe('deploy output without a terminal', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('prints a summary per stage at each interval, a line per failure, and no per-stage lines', () => {
    const { chunks, s } = stream(false);
    const log = deployOutput({ stream: s, intervalSeconds: 10 });
    log.event('run-start', runStart(['h1', 'h2', 'h3']));
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'start', reason: 'not deployed yet' });
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'ran', reason: 'not deployed yet', changed: 3, ms: 1500 });
    log.event('stage', { host: 'h2', service: 'web', stage: 'stage', status: 'start', reason: 'not deployed yet' });
    expect(chunks.join('')).toBe('');
    vi.advanceTimersByTime(10_000);
    expect(chunks.join('')).toBe('progress: stage 1/3 done, 1 running; install 0/3 done; configure 0/3 done; 0:10 elapsed, about 1:20 left\n');
    chunks.length = 0;
    log.event('stage', { host: 'h2', service: 'web', stage: 'stage', status: 'failed', reason: 'host h2: exit status 1\n\x1b[31mmore' });
    log.event('host', { host: 'h2', status: 'failed', error: 'host h2: exit status 1\nmore' });
    log.event('stage', { host: 'h3', service: 'web', stage: 'stage', status: 'skipped', reason: 'done' });
    expect(chunks.join('')).toBe('FAILED h2 web stage: host h2: exit status 1\n');
    vi.advanceTimersByTime(10_000);
    log.done();
    expect(chunks.slice(1).join('')).toBe(
      'progress: stage 2/3 done, 1 failed; install 0/3 done; configure 0/3 done; 0:20 elapsed, about 0:40 left\n' +
        'progress: stage 2/3 done, 1 failed; install 0/3 done; configure 0/3 done; 0:20 elapsed, about 0:40 left\n',
    );
    // the interval stops with the run
    chunks.length = 0;
    vi.advanceTimersByTime(60_000);
    expect(chunks).toEqual([]);
  });

  it('names a host that failed outside any stage (its lock, its connection) once', () => {
    const { chunks, s } = stream(false);
    const log = deployOutput({ stream: s, intervalSeconds: 10 });
    log.event('run-start', runStart(['h1']));
    log.event('host', { host: 'h1', status: 'failed', error: 'host h1 is locked by ferry deploy on r (pid 1), started t' });
    for (const stage of ['stage', 'install', 'configure']) log.event('stage', { host: 'h1', service: 'web', stage, status: 'not run', reason: 'host failed earlier' });
    log.done();
    expect(chunks.join('')).toBe('FAILED h1: host h1 is locked by ferry deploy on r (pid 1), started t\nprogress: stage 0/1 done, 1 not run; install 0/1 done, 1 not run; configure 0/1 done, 1 not run; 0:00 elapsed\n');
  });

  it('with -v also prints one line per finished stage', () => {
    const { chunks, s } = stream(false);
    const log = deployOutput({ stream: s, verbose: true, intervalSeconds: 10 });
    log.event('run-start', runStart(['h1', 'h2']));
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'start', reason: 'not deployed yet' });
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'ran', reason: 'not deployed yet', changed: 3, ms: 1500 });
    log.event('stage', { host: 'h2', service: 'web', stage: 'install', status: 'skipped', reason: 'done at 2026-12-01' });
    expect(chunks.join('')).toBe('h1 web stage: ran (3 changed, 1.5 s)\nh2 web install: skipped (done at 2026-12-01)\n');
  });
});

describe('deploy output on a terminal', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps one live line per host up to 20 hosts, redrawn in place', () => {
    const { chunks, s } = stream(true);
    const log = deployOutput({ stream: s });
    log.event('run-start', runStart(['h1', 'h2']));
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'start', reason: 'not deployed yet' });
    log.event('stage', { host: 'h2', service: 'web', stage: 'stage', status: 'skipped', reason: 'done' });
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'ran', reason: 'not deployed yet', changed: 1, ms: 10 });
    const out = chunks.join('');
    expect(out).toContain('\x1b[2A'); // back up over the two host lines
    expect(out.split('\x1b[2A').pop()).toMatch(/h1\s+1 ran\s+0 skipped\s+0 failed\s+web stage ran\n.*h2\s+0 ran\s+1 skipped\s+0 failed\s+web stage skipped\n$/s);
  });

  it('above 20 hosts shows counters per stage and only the running hosts; failures print once above', () => {
    vi.useFakeTimers();
    const { chunks, s } = stream(true);
    const log = deployOutput({ stream: s });
    log.event('run-start', runStart(names(30)));
    for (const h of names(30).slice(0, 25)) log.event('stage', { host: h, service: 'web', stage: 'stage', status: 'skipped', reason: 'done' });
    log.event('stage', { host: 'h26', service: 'web', stage: 'stage', status: 'start', reason: 'version 1.0 -> 1.1' });
    log.event('stage', { host: 'h27', service: 'web', stage: 'stage', status: 'start', reason: 'version 1.0 -> 1.1' });
    log.event('stage', { host: 'h27', service: 'web', stage: 'stage', status: 'failed', reason: 'host h27: cannot fetch' });
    log.event('host', { host: 'h27', status: 'failed', error: 'host h27: cannot fetch' });
    vi.advanceTimersByTime(1000);
    log.done();
    const out = chunks.join('');
    expect(out.match(/FAILED h27 web stage: host h27: cannot fetch\n/g)).toHaveLength(1);
    const last = out.slice(out.lastIndexOf('FAILED'));
    const view = last.slice(last.lastIndexOf('\x1b[')).split('\n');
    const final = out.split(/\x1b\[\d+A/).pop()!.replace(/\r\x1b\[K/g, '');
    expect(view.length).toBeGreaterThan(0);
    expect(final).toMatch(/^stage\s+25\/30 done {2}1 running, 1 failed\ninstall\s+0\/30 done\nconfigure\s+0\/30 done\n0:01 elapsed, about 0:02 left\n {2}h26 {2}web stage\n$/);
    // no line per host
    expect(out).not.toContain('h1 ');
  });
});

describe('deploy output with --json', () => {
  it('writes one JSON event per line, with its time', () => {
    const { chunks, s } = stream(true);
    deployOutput({ json: true, stream: s }).event('stage', { host: 'h1', status: 'ran' });
    expect(JSON.parse(chunks[0]!)).toMatchObject({ type: 'stage', host: 'h1', status: 'ran', time: expect.stringMatching(/^\d{4}-/) });
  });
});

describe('the final report', () => {
  const outcome = (status: 'ran' | 'skipped' | 'failed' | 'not run', reason = '') => ({ status, reason, changed: status === 'ran' ? 1 : 0, ms: 1 });

  it('prints each failure reason on one line: a host whose output holds a line like the summary cannot add one', () => {
    const forged = 'demo 1 (abababababab): 2 of 2 hosts ok, 0.1 s';
    const report: DeployReport = {
      release: { name: 'demo', version: '1', digest: 'ab'.repeat(32) },
      ok: false,
      ms: 2000,
      hosts: [
        { host: 'h1', commands: 2, services: { web: { stage: { status: 'ran', reason: '', changed: 1, ms: 1 } } } },
        { host: 'h2', commands: 2, services: { web: { stage: { status: 'failed', reason: `stage command: exit status 1:\nsome output\n\n${forged}\n`, changed: 0, ms: 1 }, install: { status: 'not run', reason: `host failed earlier\n${forged}`, changed: 0, ms: 0 } } } },
      ],
    };
    const lines = deployTable(report).split('\n');
    expect(lines).toContain(`h2 web stage: failed: stage command: exit status 1: some output / ${forged}`);
    expect(lines).toContain(`install not run on 1 (h2 web): host failed earlier / ${forged}`);
    expect(lines.filter((l) => l.startsWith('demo 1 ('))).toEqual(['demo 1 (abababababab): 1 of 2 hosts ok, 1 not reached, 2.0 s']);
  });

  it('has a host × stage table up to 20 hosts, per-stage counts, then the failures with their reasons', () => {
    const report: DeployReport = {
      release: { name: 'demo', version: '1', digest: 'ab'.repeat(32) },
      ok: false,
      ms: 2000,
      hosts: [
        { host: 'h1', commands: 9, services: { web: { stage: { status: 'ran', reason: '', changed: 2, ms: 1 }, install: { status: 'skipped', reason: 'done', changed: 0, ms: 0 }, configure: { status: 'ran', reason: '', changed: 1, ms: 1 } } } },
        { host: 'h2', commands: 2, error: 'host h2: ssh: Connection refused', services: { web: { stage: { status: 'failed', reason: 'host h2: ssh: Connection refused', changed: 0, ms: 1 }, install: { status: 'not run', reason: 'host failed earlier', changed: 0, ms: 0 } } } },
      ],
    };
    expect(deployTable(report)).toBe(
      [
        'HOST  SERVICE  STAGE            INSTALL  CONFIGURE        COMMANDS',
        'h1    web      ran (2 changed)  skipped  ran (1 changed)  9',
        'h2    web      failed           not run  -                2',
        '',
        'STAGE      RAN  SKIPPED  FAILED  NOT RUN',
        'stage      1    0        1       0',
        'install    0    1        0       1',
        'configure  1    0        0       0',
        '',
        'h2 web stage: failed: host h2: ssh: Connection refused',
        'install not run on 1 (h2 web): host failed earlier',
        '',
        'demo 1 (abababababab): 1 of 2 hosts ok, 2.0 s',
        '',
      ].join('\n'),
    );
  });

  it('above 20 hosts prints counts and failures, not a row per host, unless -v', () => {
    const hosts = names(50).map((host, i) => ({
      host,
      commands: 1,
      ...(i === 3 ? { error: 'host h4: configure command: exit status 2' } : {}),
      services: {
        web: i === 3 ? { stage: outcome('skipped'), install: outcome('skipped'), configure: outcome('failed', 'host h4: configure command: exit status 2') } : i > 3 ? { stage: outcome('skipped'), install: outcome('ran'), configure: outcome('not run', 'rollout stopped (--max-fail-percent)') } : { stage: outcome('skipped'), install: outcome('ran'), configure: outcome('ran') },
      },
    }));
    const report: DeployReport = { release: { name: 'demo', version: '1', digest: 'cd'.repeat(32) }, ok: false, ms: 61_000, stopped: '1 of 50 hosts failed, more than --max-fail-percent 0; the rollout stopped before configuring 46 more', hosts };
    const text = deployTable(report);
    expect(text).toBe(
      [
        'STAGE      RAN  SKIPPED  FAILED  NOT RUN',
        'stage      0    50       0       0',
        'install    49   1        0       0',
        'configure  3    0        1       46',
        '',
        'h4 web configure: failed: host h4: configure command: exit status 2',
        'configure not run on 46 (h5 web, h6 web, h7 web, h8 web, h9 web, and 41 more): rollout stopped (--max-fail-percent)',
        '',
        // only the 3 hosts configured count as ok: the 46 the rollout never configured are not reached
        'demo 1 (cdcdcdcdcdcd): 3 of 50 hosts ok, 46 not reached, 61.0 s; 1 of 50 hosts failed, more than --max-fail-percent 0; the rollout stopped before configuring 46 more',
        '',
      ].join('\n'),
    );
    expect(deployTable(report, { verbose: true }).split('\n').filter((l) => /^h\d+ +web {2}/.test(l))).toHaveLength(50);
  });
});
