import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployEventLine, type DeployEvent } from '../../src/deploy/deployEvents.js';
import { holdHost } from '../../src/deploy/hostGuard.js';
import { LocalTransport } from '../../src/deploy/transport/localTransport.js';
import { StatusReportSchema } from '../../src/deploy/statusReport.js';
import { ferry } from '../helpers/cli.js';
import { repo } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

type RunEnd = Extract<DeployEvent, { type: 'run-end' }>;

/** The events of a `deploy --json` run (stderr), each checked against the schema; the last line, `ferry: …`, is left out. */
function events(stderr: string): Array<DeployEvent & { time: string }> {
  return stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => DeployEventLine.parse(JSON.parse(l)) as DeployEvent & { time: string });
}

/** The per-stage table of the text report: stage -> [ran, skipped, failed, not run] */
function stageTable(stdout: string): Record<string, number[]> {
  const rows = stdout.slice(stdout.search(/^STAGE /m)).split('\n').slice(1, 4);
  return Object.fromEntries(rows.map((r) => [r.split(/\s+/)[0]!, r.split(/\s+/).slice(1, 5).map(Number)]));
}

/**
 * What a deploy reports when not every host goes through (a stopped rollout, a host another run holds),
 * and what `ferry status` says of a recorded failure, on folder hosts (local transport): the events agree
 * with run-end, the per-stage counts cover every host/service pair, the messages count right.
 */
describe('deploy reporting on folder hosts', () => {
  let dir: string;
  let store: string;
  const root = (h: string) => join(dir, 'hosts', h);
  const data = (h: string) => join(root(h), 'var/lib/ferry');

  const inventory = (name: string, hosts: string[], hostVars: Record<string, Record<string, unknown>> = {}) => {
    const file = join(dir, `${name}.yaml`);
    for (const h of hosts) {
      rmSync(root(h), { recursive: true, force: true });
      mkdirSync(root(h), { recursive: true });
    }
    const entries = hosts.map((h) => [h, { transport: 'local', vars: { root: root(h), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '', ...hostVars[h] } }]);
    writeFileSync(file, stringify({ groups: { web: { hosts } }, hosts: Object.fromEntries(entries) }));
    return file;
  };

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    dir = mkdtempSync(join(tmpdir(), 'ferry-report-'));
    store = join(dir, 'store');
    writeRelease(store, {
      name: 'rep',
      version: '1',
      services: {
        web: {
          version: '1.0.0',
          groups: ['web'],
          files: { 'note.txt': 'note\n' },
          install: [{ command: { run: 'test "{{ fail_install | default(\'no\') }}" != yes' } }],
          configure: [
            { file: { src: 'note.txt', dest: '{{ root }}/note.txt' } },
            { command: { run: 'if [ "{{ fail_configure | default(\'no\') }}" = yes ]; then echo "starting web" >&2; echo "health check failed: port 8080 refused" >&2; exit 3; fi' } },
          ],
        },
      },
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a stopped rollout: no "ok" host event for a host it never reached, and the stop message counts only the hosts not reached', async () => {
    // r3 fails in install; r1 fails in the first configure batch; then 2 of 3 have failed and the rollout stops before r2
    // (r3 is left too, but it had failed already: it is not one of the hosts not reached)
    const inv = inventory('stopped', ['r1', 'r2', 'r3'], { r1: { fail_configure: 'yes' }, r3: { fail_install: 'yes' } });
    const r = await ferry(['deploy', 'rep@1', '--store', store, '--push', '--allow-local', '-i', inv, '--serial', '1', '--max-fail-percent', '40', '--json']);
    expect(r.code, r.stderr).toBe(72);
    const ev = events(r.stderr);
    const end = ev.at(-1) as RunEnd;
    expect(end.type).toBe('run-end');
    expect(end.hosts).toEqual({ total: 3, ok: 0, failed: 2, notReached: 1 });
    // one host event per host that failed or finished well, as run-end counts them; r2 was not reached: none
    expect(ev.flatMap((e) => (e.type === 'host' ? [`${e.host} ${e.status}`] : [])).sort()).toEqual(['r1 failed', 'r3 failed']);
    expect(ev.filter((e) => e.type === 'host' && e.status === 'ok')).toHaveLength(end.hosts.ok);
    expect(end.stopped).toBe('2 of 3 hosts failed, more than --max-fail-percent 40; the rollout stopped, 1 host not reached');
    // r2's configure is not run because the rollout stopped, r3's because r3 had failed
    const configure = ev.flatMap((e) => (e.type === 'stage' && e.stage === 'configure' && e.status !== 'start' ? [`${e.host} ${e.status}: ${e.reason.split('\n')[0]}`] : []));
    expect(configure.sort()).toEqual([expect.stringMatching(/^r1 failed: host r1, service web, configure command .*: exit status 3:$/), 'r2 not run: rollout stopped (--max-fail-percent)', 'r3 not run: host failed earlier']);
    expect(end.stages.configure).toEqual({ ran: 0, skipped: 0, failed: 1, notRun: 2 });
    expect(end.stages.install).toEqual({ ran: 2, skipped: 0, failed: 1, notRun: 0 });
    expect(JSON.parse(r.stdout).stopped).toBe(end.stopped);
  });

  it('ferry status shows the reason of a recorded failure on its line, the whole message in --json', async () => {
    // the facts the stopped rollout above left: r1's configure failed with exit status 3 and two lines of output
    const inv = join(dir, 'stopped.yaml');
    const text = await ferry(['status', '--allow-local', '-i', inv]);
    const line = text.stdout.split('\n').find((l) => l.startsWith('r1 web: '));
    expect(line).toMatch(/^r1 web: configure command failed at \S+: host r1, service web, configure command ".*": exit status 3: starting web \/ health check failed: port 8080 refused$/);
    const json = StatusReportSchema.parse(JSON.parse((await ferry(['status', '--allow-local', '-i', inv, '--json'])).stdout));
    expect(json.rows.find((x) => x.host === 'r1')!.failure!.message).toMatch(/: exit status 3:\nstarting web\nhealth check failed: port 8080 refused$/);
  });

  it('ferry status puts a long failure with control characters on one escaped line: its start and its end', async () => {
    const facts = join(dir, 'long-facts');
    mkdirSync(facts, { recursive: true });
    const D = 'c3'.repeat(32);
    const output = Array.from({ length: 60 }, (_, i) => `line ${i} of the output`).join('\n');
    const message = `host x1, service web, configure command "migrate": exit status 1:\n\x1b[31m${output}\nreal reason: disk full\r\n`;
    const stage = (s: string) => ({ time: 't', version: '1.0', digest: D, key: `${s}-key`, artifacts: 'a', changed: 0 });
    const fact = { format: 'ferry-fact/1', service: 'web', host: 'x1', version: '1.0', digest: D, release: { name: 'site', version: '1' }, keys: { stage: 'stage-key', install: 'install-key', configure: 'configure-key' }, failure: { stage: 'configure', step: 'command', time: 't', message, digest: D }, stages: { stage: stage('stage'), install: stage('install') } };
    writeFileSync(join(facts, 'web.json'), JSON.stringify(fact));
    const inv = join(dir, 'long.yaml');
    writeFileSync(inv, 'hosts: { x1: { transport: local } }\n');
    const text = await ferry(['status', '--allow-local', '-i', inv, '--facts-dir', facts]);
    const lines = text.stdout.split('\n').filter((l) => l.startsWith('x1 web: '));
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatch(/^x1 web: configure command failed at t: host x1, service web, configure command "migrate": exit status 1: \\x1b\[31mline 0 of the output \/ line 1 of the output \/ /);
    expect(line).toMatch(/ … .*line 59 of the output \/ real reason: disk full$/);
    expect(line).not.toMatch(/[\x00-\x1f]/);
    expect(line.length).toBeLessThan('x1 web: configure command failed at t: '.length + 410);
    const json = StatusReportSchema.parse(JSON.parse((await ferry(['status', '--allow-local', '-i', inv, '--facts-dir', facts, '--json'])).stdout));
    expect(json.rows[0]!.failure!.message).toBe(message);
  });

  it('a host another run holds: its pairs count in every stage row (not run), the table and run-end add up to every pair', async () => {
    const inv = inventory('locked', ['k1', 'k2', 'k3']);
    const first = await ferry(['deploy', 'rep@1', '--store', store, '--push', '--allow-local', '-i', inv]);
    expect(first.code, first.stderr).toBe(0);
    mkdirSync(join(data('k1'), 'facts'), { recursive: true });
    const held = await holdHost(new LocalTransport('k1'), 'k1', data('k1'), join(data('k1'), 'facts'), ['web']);
    try {
      const json = await ferry(['deploy', 'rep@1', '--store', store, '--push', '--allow-local', '-i', inv, '--json']);
      expect(json.code).toBe(72);
      const ev = events(json.stderr);
      const end = ev.at(-1) as RunEnd;
      expect(end.hosts).toEqual({ total: 3, ok: 2, failed: 1, notReached: 0 });
      for (const stage of ['stage', 'install', 'configure'] as const) expect(end.stages[stage], stage).toEqual({ ran: 0, skipped: 2, failed: 0, notRun: 1 });
      expect(end.failures).toEqual([{ host: 'k1', reason: expect.stringMatching(/^host k1 is locked by ferry deploy on /) }]);
      // one stage event per stage for k1, each once (configure is not reported again by the rollout)
      expect(ev.flatMap((e) => (e.type === 'stage' && e.host === 'k1' ? [`${e.stage} ${e.status}: ${e.reason}`] : []))).toEqual(['stage not run: host failed earlier', 'install not run: host failed earlier', 'configure not run: host failed earlier']);
      expect(ev.flatMap((e) => (e.type === 'host' ? [`${e.host} ${e.status}`] : [])).sort()).toEqual(['k1 failed', 'k2 ok', 'k3 ok']);

      const text = await ferry(['deploy', 'rep@1', '--store', store, '--push', '--allow-local', '-i', inv]);
      expect(text.code).toBe(72);
      expect(stageTable(text.stdout)).toEqual({ stage: [0, 2, 0, 1], install: [0, 2, 0, 1], configure: [0, 2, 0, 1] });
      expect(text.stdout).toMatch(/^k1: failed: host k1 is locked by ferry deploy on /m);
      expect(text.stdout).toContain('stage not run on 1 (k1 web): host failed earlier\n');

      // only configure considered: still one event, one count
      const only = await ferry(['deploy', 'rep@1', '--store', store, '--push', '--allow-local', '-i', inv, '--stages', 'configure', '--json']);
      const onlyEv = events(only.stderr);
      expect(onlyEv.flatMap((e) => (e.type === 'stage' && e.host === 'k1' ? [`${e.stage} ${e.status}`] : []))).toEqual(['configure not run']);
      expect((onlyEv.at(-1) as RunEnd).stages.configure).toEqual({ ran: 0, skipped: 2, failed: 0, notRun: 1 });
    } finally {
      await held.release();
    }
  });

  it('plan --check with one differing step says "1 step differs"', async () => {
    const inv = inventory('drift', ['d1']);
    const first = await ferry(['deploy', 'rep@1', '--store', store, '--push', '--allow-local', '-i', inv]);
    expect(first.code, first.stderr).toBe(0);
    writeFileSync(join(root('d1'), 'note.txt'), 'changed by hand\n');
    const check = await ferry(['plan', 'rep@1', '--store', store, '--allow-local', '-i', inv, '--check']);
    expect(check.code).toBe(2);
    expect(check.stdout).toMatch(/^1 of 2 steps differs on 1 of 1 host; /m);
    expect(check.stderr).toMatch(/^ferry: drift: 1 step differs on d1; /m);
  });
});
