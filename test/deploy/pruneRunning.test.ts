import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * ferry_keep_releases keeps the most recently used release trees and the ones the facts are being brought
 * to: the bundle whose configure last completed there (what the host runs) was removed as soon as two newer
 * bundles had been used, as with two releases on one host (site 8 runs, mon 1 deployed, site 9 staged and
 * installed only). A rollback of site then had to send site 8's files again (with --push, from the runner).
 * A folder host.
 */
describe('pruning staged releases keeps the one a host runs', () => {
  let site: ReturnType<typeof folderSite>;
  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    site = folderSite('prune-running', ['h1']);
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${readFileSync(site.inventory, 'utf8')}`);
    installFakeSystemctl(site.root('h1'));
  });
  afterAll(() => {
    if (site) rmSync(site.dir, { recursive: true, force: true });
  });

  it('a release staged and installed beside another release does not remove the bundle that runs', async () => {
    const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--push');
    const bundle = (d: string) => join(site.root('h1'), 'var/lib/ferry/bundles', d);
    const site8 = writeRelease(site.store, { name: 'site', version: '8.0', epoch: '2026-11-01T00:00:00Z', services: { web: webService('8.0') } });
    const site9 = writeRelease(site.store, { name: 'site', version: '9.0', epoch: '2026-11-02T00:00:00Z', services: { web: webService('9.0') } });
    const mon1 = writeRelease(site.store, { name: 'mon', version: '1', services: { agent: { version: '1', groups: ['web'], files: { 'agent.conf': 'agent 1\n' }, configure: [{ file: { src: 'agent.conf', dest: '{{ root }}/etc/agent.conf' } }] } } });
    expect((await ferry('deploy', 'site@8.0')).code).toBe(0);
    expect((await ferry('deploy', 'mon@1')).code).toBe(0);
    const staged = await ferry('deploy', 'site@9.0', '--stages', 'stage,install');
    expect(staged.code, staged.stderr).toBe(0);
    expect(readFileSync(join(site.root('h1'), 'etc/web/app.conf'), 'utf8')).toContain('version 8.0\n');
    for (const d of [site9, mon1]) expect(existsSync(bundle(d)), d).toBe(true);
    expect(existsSync(join(bundle(site8), 'files/web/static.txt'))).toBe(true);
    // the rollback finds site 8 staged: its stage sends nothing again
    const back = await ferry('rollback', 'site');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout.split('\n').find((l) => l.startsWith('h1 '))?.split(/\s{2,}/).slice(0, 3)).toEqual(['h1', 'web', 'ran (0 changed)']);
    expect(readFileSync(join(site.root('h1'), 'etc/web/app.conf'), 'utf8')).toContain('version 8.0\n');
  });
});
