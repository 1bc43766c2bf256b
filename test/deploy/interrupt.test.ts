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
