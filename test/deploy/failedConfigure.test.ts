import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labInventory, repo, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * A configure that failed after it had changed something (a template written, then a command or a
 * health check failed): the re-run finds the file already right, yet the service has not been
 * restarted for it, or its health check never passed. Real sshd hosts, artifacts from a static server.
 */
describe('re-running a configure that failed after it changed something', () => {
  const ctx = useLab('failed-configure', ['fc1', 'fc2']);
  let inv = '';
  const fc1 = () => ctx.lab.hosts[0]!;
  const restarts = () => readFileSync(join(fc1().root, 'systemctl.log'), 'utf8').split('\n').filter((l) => l === 'restart web').length;
  const ferry = (...args: string[]) => runFerry(...args, '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig);
  const status = async () => JSON.parse((await runFerry('status', '--json', '-i', inv, '-F', ctx.lab.sshConfig)).stdout).rows.find((r: { host: string }) => r.host === 'fc1');

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    for (const h of ctx.lab.hosts) resetHost(h);
    inv = join(ctx.dir, 'inventory.yaml');
    writeFileSync(inv, labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url }).text);
    // a configuration-only service: install changes nothing. A guarded command (unchanged when its guard
    // says there is nothing to do) fails on a host while it has the file ROOT/broken-check, and the
    // health check while it has ROOT/broken-health
    const svc = (version: string) =>
      webService(version, {
        install: [],
        configure: [
          { template: { src: 'app.conf.j2', dest: '{{ root }}/etc/web/app.conf' } },
          { command: { run: 'echo "the site check failed" >&2; exit 3', onlyif: 'test -e {{ root }}/broken-check' } },
          { service: { name: 'web', systemctl: '{{ root }}/bin/systemctl', check: 'test ! -e {{ root }}/broken-health', check_tries: 1, check_delay: 0 } },
        ],
      });
    writeRelease(ctx.store, { name: 'fc', version: '1', services: { web: svc('1.0.0') } });
    writeRelease(ctx.store, { name: 'fc', version: '2', services: { web: svc('2.0.0') } });
    writeRelease(ctx.store, { name: 'fc', version: '3', services: { web: svc('3.0.0') } });
  });

  it('restarts the service the failed attempt changed things for', async () => {
    expect((await ferry('deploy', 'fc@1')).code).toBe(0);
    const before = restarts();
    // release 2's config check fails on fc1 after its template was written: web still runs release 1's
    writeFileSync(join(fc1().root, 'broken-check'), '');
    const failed = await ferry('deploy', 'fc@2');
    expect(failed.code, failed.stderr).toBe(72);
    expect(readFileSync(join(fc1().root, 'etc/web/app.conf'), 'utf8')).toContain('version 2.0.0');
    expect(restarts()).toBe(before);

    rmSync(join(fc1().root, 'broken-check'));
    const again = await ferry('deploy', 'fc@2');
    expect(again.code, again.stderr).toBe(0);
    expect(restarts()).toBe(before + 1);
    expect((await status()).complete).toBe(true);
  });

  it('runs the failed health check again, and does not report the host done while it fails', async () => {
    writeFileSync(join(fc1().root, 'broken-health'), '');
    const failed = await ferry('deploy', 'fc@3');
    expect(failed.code, failed.stderr).toBe(72);
    expect(failed.stdout).toContain('health check of web still failing after 1 tries');
    // nothing fixed: the same command fails the same way, it does not call the host done
    const same = await ferry('deploy', 'fc@3');
    expect(same.code, same.stdout).toBe(72);
    expect(same.stdout).toContain('health check of web still failing after 1 tries');
    expect((await status()).complete).toBe(false);

    rmSync(join(fc1().root, 'broken-health'));
    const fixed = await ferry('deploy', 'fc@3');
    expect(fixed.code, fixed.stderr).toBe(0);
    expect((await status()).complete).toBe(true);
    const done = await ferry('deploy', 'fc@3');
    expect(done.stdout).toMatch(/^fc1\s+web\s+skipped\s+skipped\s+skipped/m);
  });
});
