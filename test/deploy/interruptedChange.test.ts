import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, ferry } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { installFakeSystemctl } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * A deploy of a new release interrupted (Ctrl-C, SIGTERM, a runner killed) after a step had changed the
 * host and before the service was restarted for it: the re-run finds the changed file already right, so
 * its own steps change nothing; it must still restart the service and run its health check, and
 * `status` must not call the host done in between. Local transport, the host's systemctl a stand-in.
 */
describe('a deploy interrupted after it changed the host', () => {
  let dir: string;
  let store: string;
  let inventory: string;
  const root = () => join(dir, 'host');
  const common = () => ['--store', store, '--push', '--allow-local', '-i', inventory];
  const restarts = () => readFileSync(join(root(), 'systemctl.log'), 'utf8').split('\n').filter((l) => l === 'restart web' || l === 'start web').length;
  // a command step that waits while the host holds the file WAIT-STAGE (long enough to be interrupted)
  const pause = (stage: string) => ({ command: { run: `sh -c 'echo $$ > {{ root }}/${stage}.pid; exec sleep 3607'`, onlyif: `test -e {{ root }}/WAIT-${stage}` } });
  // each release changes one thing: release 2 only the configuration, release 3 only what install puts in place
  const service = (version: string, conf: string, lib: string) => ({
    version,
    groups: ['web'],
    files: { 'app.conf.j2': `mode ${conf}\n`, 'lib.txt': `lib ${lib}\n` },
    install: [{ file: { src: 'lib.txt', dest: '{{ root }}/opt/lib.txt' } }, pause('install')],
    configure: [{ template: { src: 'app.conf.j2', dest: '{{ root }}/etc/app.conf' } }, pause('configure'), { service: { name: 'web', systemctl: '{{ root }}/bin/systemctl' } }],
  });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-interrupted-change-'));
    store = join(dir, 'store');
    installFakeSystemctl(root());
    writeRelease(store, { name: 'ic', version: '1', services: { web: service('1.0.0', 'a', '1') } });
    writeRelease(store, { name: 'ic', version: '2', services: { web: service('2.0.0', 'b', '1') } });
    writeRelease(store, { name: 'ic', version: '3', services: { web: service('3.0.0', 'b', '3') } });
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['me'] } }, hosts: { me: { transport: 'local', vars: { root: root(), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } } } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** deploy `release` while the host holds WAIT-`stage`, stop the runner by `signal` once that stage's pause runs, then let the host go on */
  async function interrupt(release: string, stage: 'install' | 'configure', signal: NodeJS.Signals): Promise<void> {
    const pid = join(root(), `${stage}.pid`);
    rmSync(pid, { force: true });
    writeFileSync(join(root(), `WAIT-${stage}`), '');
    const runner = spawn(process.execPath, [FERRY_BIN, 'deploy', release, ...common()], { stdio: ['ignore', 'pipe', 'pipe'] });
    runner.stdout.resume();
    runner.stderr.resume();
    await until(`the ${stage} pause to start`, () => existsSync(pid) && readFileSync(pid, 'utf8').trim() !== '');
    const exited = new Promise<number | null>((r) => runner.once('close', (c, s) => r(c ?? (s ? -1 : null))));
    runner.kill(signal);
    await exited;
    rmSync(join(root(), `WAIT-${stage}`));
    const sleeper = Number(readFileSync(pid, 'utf8'));
    try {
      process.kill(sleeper, 'SIGKILL');
    } catch {
      /* already gone with the runner */
    }
  }

  const status = async () => JSON.parse((await ferry(['status', '--allow-local', '-i', inventory, '--json'])).stdout).rows[0] as { complete: boolean; stages: Record<string, string> };

  it('after the template was written: status is not complete, and the re-run restarts the service', async () => {
    const first = await ferry(['deploy', 'ic@1', ...common()]);
    expect(first.code, first.stderr).toBe(0);
    const before = restarts();
    expect(before).toBe(1);

    await interrupt('ic@2', 'configure', 'SIGINT');
    // release 2's config is in place, the service still runs release 1's
    expect(readFileSync(join(root(), 'etc/app.conf'), 'utf8')).toBe('mode b\n');
    expect(restarts()).toBe(before);
    expect((await status()).complete).toBe(false);

    const again = await ferry(['deploy', 'ic@2', ...common()]);
    expect(again.code, again.stderr).toBe(0);
    expect(restarts()).toBe(before + 1);
    expect(await status()).toMatchObject({ complete: true, stages: { stage: 'done', install: 'done', configure: 'done' } });
    // and a further run has nothing left to do
    const done = await ferry(['deploy', 'ic@2', ...common()]);
    expect(done.code, done.stderr).toBe(0);
    expect(restarts()).toBe(before + 1);
  });

  it('after install replaced a file (runner killed): configure restarts for it on the re-run', async () => {
    const before = restarts();
    await interrupt('ic@3', 'install', 'SIGKILL');
    expect(readFileSync(join(root(), 'opt/lib.txt'), 'utf8')).toBe('lib 3\n');
    expect(restarts()).toBe(before);
    expect((await status()).complete).toBe(false);

    const again = await ferry(['deploy', 'ic@3', ...common()]);
    expect(again.code, again.stderr).toBe(0);
    expect(restarts()).toBe(before + 1);
    expect((await status()).complete).toBe(true);
    // plan says what a forced install leaves to configure
    const plan = await ferry(['plan', 'ic@3', ...common(), '--force', 'install']);
    expect(plan.stdout).toMatch(/^me +web +install +run +forced \(--force install\)$/m);
    expect(plan.stdout).toMatch(/^me +web +configure +skip +done \S+; runs if install changes something$/m);
  });
});
