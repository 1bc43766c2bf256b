import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdHost } from '../../src/deploy/hostGuard.js';
import { LocalTransport } from '../../src/deploy/transport/localTransport.js';
import { FERRY_BIN } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { writeRelease } from './storeFixture.js';

/** whether a process runs (a zombie that nobody reaped has stopped) */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The local transport (a host that is the runner's own machine) stops a run's remote work the way the
 * ssh transport does: each command in a process group of its own, recorded in the run's session file,
 * stopped by the host's hold when the runner is gone, or by the next run when the hold was lost too.
 */
describe("a killed runner's commands on a local host", () => {
  let dir: string;
  let store: string;
  const root = () => join(dir, 'host');
  const data = () => join(root(), 'var/lib/ferry');
  const pidOf = (file: string) => Number(readFileSync(file, 'utf8'));
  const started = (file: string) => existsSync(file) && readFileSync(file, 'utf8').trim() !== '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-local-cleanup-'));
    store = join(dir, 'store');
    // a long install, as apt-get or pip can be; the test kills the runner while it runs
    writeRelease(store, { name: 'long', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'note.txt': 'staged\n' }, install: [{ command: { run: 'sh -c \'echo $$ > {{ root }}/sleeper.pid; exec sleep 3607\'' } }] } } });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stop when the runner is killed, even by SIGKILL of the runner alone', async () => {
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['me'] } }, hosts: { me: { transport: 'local', vars: { root: root(), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
    const runner = spawn(process.execPath, [FERRY_BIN, 'deploy', 'long@1', '--store', store, '--push', '--allow-local', '-i', inventory], { stdio: 'ignore' });
    const pidFile = join(root(), 'sleeper.pid');
    await until('the install to start', () => started(pidFile));
    const sleeper = pidOf(pidFile);
    runner.kill('SIGKILL');
    await new Promise((r) => (runner.exitCode !== null || runner.signalCode !== null ? r(undefined) : runner.once('exit', r)));
    await until('the install command to stop', () => !running(sleeper));
    await until('the hold to end', () => !existsSync(join(data(), 'run/holder')));
  });

  it('that a lost hold left running are stopped by the next run on that host', async () => {
    mkdirSync(join(data(), 'run'), { recursive: true });
    const pidFile = join(root(), 'orphan.pid');
    // a command of a run whose runner and hold are both gone: only its session record is left
    const lost = new LocalTransport('me');
    lost.registerSessions(join(data(), 'run/sessions'));
    const orphan = lost.run(`sh -c 'echo $$ > ${pidFile}; exec sleep 3607'`);
    await until('the command to start', () => started(pidFile));
    const sleeper = pidOf(pidFile);

    const next = await holdHost(new LocalTransport('me'), 'me', data(), join(data(), 'facts'), []);
    try {
      expect(next.cleaned).toContainEqual(expect.stringMatching(/^stopped the remote commands of process group \d+$/));
      expect(running(sleeper)).toBe(false);
      expect((await orphan).code).not.toBe(0);
    } finally {
      await next.release();
    }
  });
});
