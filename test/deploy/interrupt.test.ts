import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, ferry } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { writeRelease } from './storeFixture.js';

/**
 * An operator interrupts `ferry deploy` (Ctrl-C, or SIGTERM from a supervisor) while an install runs:
 * ferry stops at once with one `ferry:` line and the shell's code for that signal (130, 143), and the
 * host's facts do not claim the interrupted stage done.
 */
describe('an interrupted deploy', () => {
  let dir: string;
  let store: string;
  let inventory: string;
  const root = () => join(dir, 'host');
  const pidFile = () => join(root(), 'sleeper.pid');
  const started = () => existsSync(pidFile()) && readFileSync(pidFile(), 'utf8').trim() !== '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-interrupt-'));
    store = join(dir, 'store');
    writeRelease(store, { name: 'long', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'note.txt': 'staged\n' }, install: [{ command: { run: 'sh -c \'echo $$ > {{ root }}/sleeper.pid; exec sleep 3607\'' } }] } } });
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['me'] } }, hosts: { me: { transport: 'local', vars: { root: root(), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`by ${signal} mid-install: exit ${code}, one line, no fact claims the install`, async () => {
      rmSync(pidFile(), { force: true });
      const runner = spawn(process.execPath, [FERRY_BIN, 'deploy', 'long@1', '--store', store, '--push', '--allow-local', '-i', inventory], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      runner.stderr.on('data', (d) => (stderr += d));
      runner.stdout.resume();
      await until('the install to start', () => started());
      const exited = new Promise<number | null>((r) => runner.once('close', (c) => r(c)));
      runner.kill(signal);
      expect(await exited).toBe(code);
      const last = stderr.trimEnd().split('\n').at(-1)!;
      expect(last).toMatch(new RegExp(`^ferry: interrupted by ${signal}`));
      const status = await ferry(['status', '--allow-local', '-i', inventory, '--json']);
      const rows = JSON.parse(status.stdout).rows as Array<{ service: string; complete: boolean; stages?: Record<string, string> }>;
      expect(rows.map((r) => r.service)).toEqual(["web"]);
      for (const row of rows) {
        expect(row.complete).toBe(false);
        expect(row.stages?.install).not.toBe('done');
      }
      // the install command ferry started on the host does not outlive the interrupted run
      const sleeper = Number(readFileSync(pidFile(), 'utf8'));
      await until('the install command to stop', () => !existsSync(`/proc/${sleeper}`) || readFileSync(`/proc/${sleeper}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'Z');
    });
  }
});

/**
 * A forced run of a stage the facts show done (here `--force configure`), interrupted half way: the
 * fact from the earlier run must not go on saying the stage is done, as a forced run that fails does not.
 */
describe('an interrupted forced stage', () => {
  let dir: string;
  let store: string;
  let inventory: string;
  const root = () => join(dir, 'host');
  const pidFile = () => join(root(), 'configure.pid');
  const started = () => existsSync(pidFile()) && readFileSync(pidFile(), 'utf8').trim() !== '';
  const common = () => ['--store', store, '--push', '--allow-local', '-i', inventory];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-interrupt-forced-'));
    store = join(dir, 'store');
    // configure waits while the host holds a file named SLEEP (long enough to be interrupted)
    writeRelease(store, { name: 'restart', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'note.txt': 'staged\n' }, configure: [{ command: { run: 'echo stopping >> {{ root }}/svc.log; if test -e {{ root }}/SLEEP; then sh -c \'echo $$ > {{ root }}/configure.pid; exec sleep 3607\'; fi; echo started >> {{ root }}/svc.log' } }] } } });
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['me'] } }, hosts: { me: { transport: 'local', vars: { root: root(), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('by SIGINT: status shows the configure not done, plan and the plain re-run do it again', async () => {
    const first = await ferry(['deploy', 'restart@1', ...common()]);
    expect(first.code, first.stderr).toBe(0);
    writeFileSync(join(root(), 'SLEEP'), '');
    const runner = spawn(process.execPath, [FERRY_BIN, 'deploy', 'restart@1', ...common(), '--force', 'configure'], { stdio: ['ignore', 'pipe', 'pipe'] });
    runner.stdout.resume();
    runner.stderr.resume();
    await until('the forced configure to start', () => started());
    const exited = new Promise<number | null>((r) => runner.once('close', (c) => r(c)));
    runner.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(readFileSync(join(root(), 'svc.log'), 'utf8')).toBe('stopping\nstarted\nstopping\n');

    const status = await ferry(['status', '--allow-local', '-i', inventory, '--json']);
    const [row] = JSON.parse(status.stdout).rows as Array<{ complete: boolean; stages: Record<string, string>; failure?: { stage: string; message: string } }>;
    expect(row!.complete).toBe(false);
    expect(row!.stages).toEqual({ stage: 'done', install: 'done', configure: 'failed' });
    expect(row!.failure).toMatchObject({ stage: 'configure', message: expect.stringMatching(/^did not finish: the run that started it was stopped before it completed/) });
    const plan = await ferry(['plan', 'restart@1', ...common()]);
    expect(plan.stdout).toMatch(/^me +web +configure +run +configure did not finish \(started \S+\), running again$/m);

    rmSync(join(root(), 'SLEEP'));
    const again = await ferry(['deploy', 'restart@1', ...common(), '--json']);
    expect(again.code, again.stderr).toBe(0);
    const ran = again.stderr.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'stage' && e.status === 'ran');
    expect(ran.map((e) => e.stage)).toEqual(['configure']);
    expect(readFileSync(join(root(), 'svc.log'), 'utf8')).toBe('stopping\nstarted\nstopping\nstopping\nstarted\n');
    const done = JSON.parse((await ferry(['status', '--allow-local', '-i', inventory, '--json'])).stdout).rows[0];
    expect(done).toMatchObject({ complete: true, stages: { stage: 'done', install: 'done', configure: 'done' } });
    expect(done.failure).toBeUndefined();
  });
});
