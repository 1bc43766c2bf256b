import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labInventory, repo, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { until } from '../helpers/until.js';

/**
 * Two deploys of one release at once. A run held a host only when it reached it (--forks at a time, for
 * its stage and install), so a second run started meanwhile took the hosts the first had not reached yet
 * and deployed them beside it: two rollouts, each with its own --serial batches, on one fleet. A run now
 * holds every host ahead of its stage work, so the second finds them all held. Real sshd hosts.
 */
describe('a second deploy while the first stages its hosts', () => {
  const ctx = useLab('lock-ahead', ['la1', 'la2']);
  let inv = '';
  const [la1, la2] = [() => ctx.lab.hosts[0]!, () => ctx.lab.hosts[1]!];
  const ferry = (...args: string[]) => runFerry(...args, '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig);
  const held = (root: string) => existsSync(join(root, 'var/lib/ferry/run/holder')) && readFileSync(join(root, 'var/lib/ferry/run/holder'), 'utf8');

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    for (const h of ctx.lab.hosts) resetHost(h);
    inv = join(ctx.dir, 'inventory.yaml');
    // la1's install waits for the file ROOT/go, after saying so
    const wait = `touch ${la1().root}/waiting; until [ -e ${la1().root}/go ]; do sleep 0.05; done`;
    writeFileSync(inv, labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }, { la1: { install_wait: wait } }).text);
    writeRelease(ctx.store, { name: 'la', version: '1', services: { web: webService('1.0.0', { install: [{ command: { run: "{{ install_wait | default('true') }}" } }] }) } });
  });

  it('the second run is refused on every host, naming the first; the first deploys them all', async () => {
    const first = ferry('deploy', 'la@1', '--forks', '1');
    let ended = false;
    void first.then(() => (ended = true));
    await until('the first run to wait in la1\'s install', () => existsSync(join(la1().root, 'waiting')) || ended);
    // held ahead of its turn (before, la2 was taken only once la1's stage and install were done)
    await until('the first run to hold la2 too', () => Boolean(held(la2().root)) || ended);
    // by the first run (one process; each host's line has the time it was taken)
    const holders = [held(la1().root), held(la2().root)].map((h) => (h || '').trim());
    expect(holders.map((h) => /\(pid (\d+)\)/.exec(h)?.[1])).toEqual([expect.stringMatching(/^\d+$/), /\(pid (\d+)\)/.exec(holders[0]!)?.[1]]);

    const second = await ferry('deploy', 'la@1');
    writeFileSync(join(la1().root, 'go'), '');
    const r = await first;
    expect(r.code, r.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(72);
    for (const [i, h] of ['la1', 'la2'].entries()) expect(second.stdout).toContain(`${h}: failed: host ${h} is locked by ${holders[i]}; wait for that run to finish, or pass --wait-lock SECONDS to wait for it`);
    expect(readFileSync(join(la2().root, 'etc/web/app.conf'), 'utf8')).toContain('name la2');
  });
});
