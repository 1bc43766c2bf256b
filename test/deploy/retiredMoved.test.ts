import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * A host the inventory moved out of a service's group has that service's fact retired by the next deploy of
 * its release (it is held, its facts are marked). The line said `web is not in site 7.0: retired on h2`, where
 * site 7.0 has web and gives it to h1: the operator read that the release dropped the service. It says what
 * happened: the release does not give that host the service, and on which groups it runs (folder hosts).
 */
describe('a service retired because the host left its group (deploy line, status line)', () => {
  let site: ReturnType<typeof folderSite>;
  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    site = folderSite('retired-moved', ['h1', 'h2']);
    for (const h of ['h1', 'h2']) installFakeSystemctl(site.root(h));
  });
  afterAll(() => {
    if (site) rmSync(site.dir, { recursive: true, force: true });
  });

  it('says the release does not give it to the host, not that the release does not have it', async () => {
    const base = readFileSync(site.inventory, 'utf8');
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${base}`);
    const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--push');
    writeRelease(site.store, { name: 'site', version: '6.0', epoch: '2026-11-01T00:00:00Z', services: { web: webService('6.0'), side: { version: '1', groups: ['web'], configure: [] } } });
    writeRelease(site.store, { name: 'site', version: '7.0', epoch: '2026-11-02T00:00:00Z', services: { web: webService('7.0') } });
    expect((await ferry('deploy', 'site@6.0')).code).toBe(0);
    // h2 leaves group web
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${base.replace(/(web:\n\s+hosts:\n\s+- h1\n)\s+- h2\n/, '$1')}`);
    expect(readFileSync(site.inventory, 'utf8')).not.toMatch(/- h2/);
    const moved = await ferry('deploy', 'site@7.0');
    expect(moved.code, moved.stderr).toBe(0);
    const lines = moved.stderr.split('\n');
    expect(lines).toContain('web of site 7.0 is not given to h2 (it runs on group web): retired there (what it installed stays there)');
    // a service the release dropped is still said so, on every host that had it
    expect(lines).toContain('side is not in site 7.0: retired on h1, h2 (what it installed stays there)');
    expect(moved.stderr).not.toContain('web is not in');
    // status said h2 runs site 7.0 and that site 7.0 does not have web: h2 runs nothing of it, and it has web
    const status = await runFerry('status', '-i', site.inventory, '--allow-local', '--store', site.store);
    const retired = status.stdout.split('\n').filter((l) => l.startsWith('retired: '));
    expect(retired).toEqual([
      expect.stringMatching(/^retired: side on h1: site 7\.0 \([0-9a-f]{12}\), which it runs, does not have it; what it installed stays there$/),
      expect.stringMatching(/^retired: side on h2: site 7\.0 \([0-9a-f]{12}\) does not give it to this host \(nor any other service\); what it installed stays there$/),
      expect.stringMatching(/^retired: web on h2: site 7\.0 \([0-9a-f]{12}\) does not give it to this host \(nor any other service\); what it installed stays there$/),
    ]);
  });
});
