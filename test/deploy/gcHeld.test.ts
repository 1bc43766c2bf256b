import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { until } from '../helpers/until.js';

/**
 * gc -i keeps the releases the hosts' facts name. A run going on names the release it brings a host only once
 * its stage stage completed there: a gc -i meanwhile (during a rollback to an older release) removed that
 * release from the store, and the hosts then ran a release the store no longer had.
 */
describe('gc -i while a run holds a host (folder host)', () => {
  const site = folderSite('gc-held', ['h1']);
  const root = site.root('h1');
  afterAll(() => rmSync(site.dir, { recursive: true, force: true }));

  it('removes nothing, one line, exit 72; once the run has finished it keeps what the host runs', async () => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    installFakeSystemctl(root);
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${readFileSync(site.inventory, 'utf8')}`);
    // release 1's stage waits in ROOT/in-stage until ROOT/go exists
    const d1 = writeRelease(site.store, { name: 'gh', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0', { stage: [{ command: { run: 'touch {{ root }}/in-stage; while [ ! -e {{ root }}/go ]; do sleep 0.1; done' } }] }) } });
    writeRelease(site.store, { name: 'gh', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: webService('2.0.0') } });
    const common = ['--store', site.store, '-i', site.inventory, '--allow-local'];
    const two = await runFerry('deploy', 'gh@2', ...common, '--push');
    expect(two.code, two.stderr).toBe(0);

    // back to release 1, held in its stage stage: the host's facts still name release 2 only
    const back = spawn('node', [join(repo, 'bin/ferry.js'), 'deploy', 'gh@1', ...common, '--push'], { stdio: 'ignore' });
    const backDone = new Promise<number | null>((r) => back.once('close', (code) => r(code)));
    let gc: Awaited<ReturnType<typeof runFerry>>;
    try {
      await until('the stage of release 1 to start', () => existsSync(join(root, 'in-stage')));
      gc = await runFerry('gc', '--keep', '1', ...common);
    } finally {
      writeFileSync(join(root, 'go'), '');
    }
    expect(gc.stderr).toMatch(/^ferry: gc removes nothing: a run holds h1 \(ferry deploy on \S+ \(pid \d+\), started \S+\) now, and the release it brings there may not be in the facts yet; run gc when that run has finished\n$/);
    expect(gc.code).toBe(72);
    expect(gc.stdout).toBe('');
    expect(existsSync(join(site.store, 'bundles', d1))).toBe(true);
    expect(await backDone).toBe(0);
    // the host runs release 1 now: gc keeps it (and the newest)
    const after = await runFerry('gc', '--keep', '1', ...common, '--json');
    expect(after.code, after.stderr).toBe(0);
    expect((JSON.parse(after.stdout) as { removed: unknown[] }).removed).toEqual([]);
    expect(existsSync(join(site.store, 'bundles', d1))).toBe(true);
  });
});
