import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labInventory, repo, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { until } from '../helpers/until.js';

/**
 * A deploy holds each host with one command that is also its ssh master connection. When that
 * connection drops in the middle of the run (a network blip, a master killed), the host releases its
 * lock and stops the run's commands. The run must not go on there over a new connection as if it still
 * held the host: another run could take the lock and deploy at the same time. Real sshd hosts.
 */
describe('a run whose hold on a host dropped', () => {
  const ctx = useLab('lost-hold', ['lh1']);
  let inv = '';
  const h = () => ctx.lab.hosts[0]!;
  const attempts = () => (existsSync(join(h().root, 'attempts')) ? readFileSync(join(h().root, 'attempts'), 'utf8').split('\n').filter(Boolean).length : 0);
  const ferry = (...args: string[]) => runFerry(...args, '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig);

  /** the runner's ssh processes that hold this lab's host (ControlMaster=yes), found by their command line */
  const masters = (): number[] =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          return argv[0] === 'ssh' && argv.includes('ControlMaster=yes') && argv.includes(ctx.lab.sshConfig);
        } catch {
          return false;
        }
      })
      .map(Number);

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    resetHost(h());
    inv = join(ctx.dir, 'inventory.yaml');
    // each attempt of the configure command counts itself, then waits for the file ROOT/go
    const wait = `echo x >> ${h().root}/attempts; until [ -e ${h().root}/go ]; do sleep 0.05; done`;
    writeFileSync(inv, labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }, { lh1: { configure_wait: wait } }).text);
    writeRelease(ctx.store, { name: 'lh', version: '1', services: { web: webService('1.0.0') } });
  });

  it('fails the host with one line instead of going on unlocked; the re-run finishes it', async () => {
    const run = ferry('deploy', 'lh@1', '--retry-delay', '200');
    let code: number | null | undefined;
    void run.then((r) => (code = r.code));
    await until('the configure command to start', () => attempts() === 1 || code !== undefined);
    expect(masters()).toHaveLength(1);
    for (const pid of masters()) process.kill(pid, 'SIGKILL');
    // before the fix the stage was retried over a new connection, with the host's lock free all along
    let lockFree: boolean | undefined;
    await until('the run to end or to try the configure again', () => {
      if (code === undefined && attempts() === 2) lockFree = spawnSync('flock', ['-n', join(h().root, 'var/lib/ferry/run/lock'), 'true']).status === 0;
      return code !== undefined || attempts() === 2;
    });
    writeFileSync(join(h().root, 'go'), '');
    const r = await run;
    expect(lockFree, 'a command ran on the host while its lock was free').toBeUndefined();
    expect(attempts()).toBe(1);
    expect(r.code, r.stderr).toBe(72);
    expect(r.stderr).toMatch(/^FAILED lh1 web configure: host lh1 \([^)]*\): ferry no longer holds this host for the run \(the connection that held its lock dropped, or its hold ended\): nothing more runs there in this run; run the same command again$/m);

    const status = JSON.parse((await runFerry('status', '--json', '-i', inv, '-F', ctx.lab.sshConfig)).stdout).rows[0];
    expect(status.stages.configure).toBe('failed');
    expect(status.complete).toBe(false);

    const again = await ferry('deploy', 'lh@1');
    expect(again.code, again.stderr).toBe(0);
    expect(attempts()).toBe(2);
  });
});
