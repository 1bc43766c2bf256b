import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * A rollback stopped by Ctrl-C while it configured says `run the same command again to continue`. But stage
 * and install of the release it goes back to had moved every fact to that release, so the rerun took it for
 * what the hosts run and went back one release further (3 -> 2 stopped, rerun: 2 -> 1), or said there was
 * nothing before it (exit 71) while the hosts still ran the configuration of the newer one. The same for a
 * rollback that puts back a release taken over (--take-over). Folder hosts; each configure waits at a gate
 * (a file) so the run is interrupted inside it, whatever the machine's load.
 */
describe('a rollback interrupted mid-configure, run again (folder hosts)', () => {
  const sites: Array<ReturnType<typeof folderSite>> = [];
  const setUp = (prefix: string, hosts: string[]) => {
    const site = folderSite(prefix, hosts);
    sites.push(site);
    const gate = join(site.dir, 'gate');
    const inside = (h: string) => join(site.dir, `inside-${h}`);
    // the configure command says it is inside (per host), then waits while the gate is closed
    writeFileSync(site.inventory, `vars: { port: 8080, configure_wait: 'touch ${site.dir}/inside-$(basename {{ root }}); while [ ! -e ${gate} ]; do sleep 0.1; done' }\n${readFileSync(site.inventory, 'utf8')}`);
    for (const h of hosts) installFakeSystemctl(site.root(h));
    const args = ['--store', site.store, '-i', site.inventory, '--allow-local', '--push'];
    const ferry = (...a: string[]) => runFerry(...a, ...args);
    const status = async () => JSON.parse((await runFerry('status', '--json', '-i', site.inventory, '--allow-local')).stdout) as { rows: Array<{ host: string; complete: boolean; digest: string }> };
    const fact = (h: string) => JSON.parse(readFileSync(join(site.root(h), 'var/lib/ferry/facts/web.json'), 'utf8')) as { digest: string; release: { name: string; version: string } };
    const conf = (h: string) => readFileSync(join(site.root(h), 'etc/web/app.conf'), 'utf8');
    const open = () => writeFileSync(gate, '');
    /** `ferry rollback ...` with the gate closed, stopped by SIGINT once a host's configure waits at it */
    const interrupted = async (...a: string[]) => {
      rmSync(gate, { force: true });
      for (const h of hosts) rmSync(inside(h), { force: true });
      const runner = spawn(process.execPath, [FERRY_BIN, ...a, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      runner.stderr.on('data', (d) => (stderr += d));
      runner.stdout.resume();
      let code: number | null | undefined;
      const closed = new Promise<void>((r) => runner.once('close', (c) => ((code = c), r())));
      await until('a configure to wait at the gate', () => code !== undefined || hosts.some((h) => existsSync(inside(h))));
      expect(code, stderr).toBeUndefined();
      runner.kill('SIGINT');
      await closed;
      expect(code, stderr).toBe(130);
      expect(stderr.trimEnd().split('\n').at(-1)).toMatch(/^ferry: interrupted by SIGINT: .*run the same command again to continue$/);
      open();
      return stderr;
    };
    return { site, ferry, status, fact, conf, open, interrupted };
  };

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
  });
  afterAll(() => {
    for (const s of sites) rmSync(s.dir, { recursive: true, force: true });
  });

  it('goes on to the release the stopped rollback went to, not one further back', async () => {
    const { site, ferry, status, fact, conf, open, interrupted } = setUp('rollback-stopped', ['h1', 'h2']);
    const d: Record<string, string> = {};
    for (const v of ['1', '2', '3']) d[v] = writeRelease(site.store, { name: 'site', version: v, epoch: `2026-11-0${v}T00:00:00Z`, services: { web: webService(`${v}.0`) } });
    open();
    for (const v of ['2', '3']) expect((await ferry('deploy', `site@${v}`)).code).toBe(0);

    const first = await interrupted('rollback', 'site');
    expect(first).toContain(`rolling back site to 2 (${d['2']!.slice(0, 12)})`);

    const again = await ferry('rollback', 'site');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`rolling back site to 2 (${d['2']!.slice(0, 12)})`);
    expect(again.stderr).toContain(`going back from site 3 (${d['3']!.slice(0, 12)}), the newest release of site the facts name: on 2 of the 2 hosts that run site (h1, h2)`);
    for (const h of ['h1', 'h2']) {
      expect(fact(h)).toMatchObject({ digest: d['2'], release: { name: 'site', version: '2' } });
      expect(conf(h)).toContain('version 2.0\n');
    }
    expect((await status()).rows.map((r) => [r.host, r.digest, r.complete])).toEqual([['h1', d['2'], true], ['h2', d['2'], true]]);

    // done, a rollback goes on from 2 as ever
    const onward = await ferry('rollback', 'site', '--check');
    expect(onward.stderr).toContain(`checking the hosts against site 1 (${d['1']!.slice(0, 12)})`);
  });

  it('goes on putting back the release a takeover replaced', async () => {
    const { site, ferry, status, fact, conf, open, interrupted } = setUp('rollback-takeback-stopped', ['h1', 'h2']);
    const app1 = writeRelease(site.store, { name: 'app', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const site7 = writeRelease(site.store, { name: 'site', version: '7.0', epoch: '2026-11-03T00:00:00Z', services: { web: webService('7.0') } });
    open();
    expect((await ferry('deploy', 'app@1', '--limit', 'h2')).code).toBe(0);
    expect((await ferry('deploy', 'site@7.0', '--take-over', 'app')).code).toBe(0);

    const line = `rolling back site on h2 to app 1 (${app1.slice(0, 12)}), whose web site 7.0 took over there (--take-over)`;
    expect(await interrupted('rollback', 'site')).toContain(line);
    expect(fact('h2').release).toEqual({ name: 'app', version: '1' });

    const again = await ferry('rollback', 'site');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(line);
    expect(fact('h2')).toMatchObject({ digest: app1, release: { name: 'app', version: '1' } });
    expect(conf('h2')).toContain('version 1.0.0\n');
    expect(fact('h1')).toMatchObject({ digest: site7, release: { name: 'site', version: '7.0' } });
    expect((await status()).rows.map((r) => [r.host, r.digest, r.complete])).toEqual([['h1', site7, true], ['h2', app1, true]]);
  });
});
