import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';


/** Three folder hosts and releases `versions` of site (web), each deployed with --push; the hosts' web fact and config. */
function rollbackSite(name: string, versions: string[]) {
  const s = {
    site: undefined as unknown as ReturnType<typeof folderSite>,
    d: {} as Record<string, string>,
    ferry: (...args: string[]) => runFerry(...args, '--store', s.site.store, '-i', s.site.inventory, '--allow-local', '--push'),
    fact: (h: string) => JSON.parse(readFileSync(join(s.site.root(h), 'var/lib/ferry/facts/web.json'), 'utf8')) as { digest: string },
    conf: (h: string) => readFileSync(join(s.site.root(h), 'etc/web/app.conf'), 'utf8'),
  };
  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    s.site = folderSite(name, ['h1', 'h2', 'h3']);
    writeFileSync(s.site.inventory, `vars: { port: 8080 }\n${readFileSync(s.site.inventory, 'utf8')}`);
    for (const h of ['h1', 'h2', 'h3']) installFakeSystemctl(s.site.root(h));
    for (const v of versions) s.d[v] = writeRelease(s.site.store, { name: 'site', version: v, epoch: `2026-11-0${v}T00:00:00Z`, services: { web: webService(`${v}.0`) } });
  });
  afterAll(() => rmSync(s.site.dir, { recursive: true, force: true }));
  return s;
}

/**
 * A canary of 3 on h1, h2 at 2, and h3 still at 1 (it was down when 2 went out). `ferry rollback site` undoes
 * the canary: back to 2. It deployed 2 to every host, so h3 went forward from 1 to 2 in the middle of a
 * rollback, though the docs promise that the other hosts stay as they are. A host whose facts name only
 * releases older than the one the rollback goes to is left as it is, and the log says so (folder hosts).
 */
describe('rollback with a host running an older release than the one it goes to (folder hosts)', () => {
  const { d, ferry, fact, conf } = rollbackSite('rollback-behind', ['1', '2', '3']);

  it('undoes the canary and leaves the host behind as it is, saying so', async () => {
    expect((await ferry('deploy', 'site@1')).code).toBe(0);
    expect((await ferry('deploy', 'site@2', '--limit', 'h1,h2')).code).toBe(0);
    expect((await ferry('deploy', 'site@3', '--limit', 'h1')).code).toBe(0);
    const left = 'left as they are: h3 (site 1), older than site 2: a rollback takes no host forward (ferry deploy site@2 does)';

    const check = await ferry('rollback', 'site', '--check');
    expect(check.stderr).toContain(left);
    expect(check.stdout).not.toMatch(/h3/);

    const back = await ferry('rollback', 'site');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toContain(`rolling back site to 2 (${d['2']!.slice(0, 12)})`);
    expect(back.stderr).toContain(left);
    for (const h of ['h1', 'h2']) {
      expect(fact(h).digest).toBe(d['2']);
      expect(conf(h)).toContain('version 2.0\n');
    }
    expect(fact('h3').digest).toBe(d['1']);
    expect(conf('h3')).toContain('version 1.0\n');
    expect(back.stdout).not.toMatch(/^h3 /m);
  });
});

/**
 * A host added to the release's groups since (h3: never deployed): `ferry rollback site` of 2 back to 1 on h1
 * and h2 installed site 1 on h3, where site never ran. A rollback undoes what ran: such a host is left as it
 * is, and the log says so (folder hosts).
 */
describe('rollback with a host whose facts name no release of the name (folder hosts)', () => {
  const at = rollbackSite('rollback-runsnone', ['1', '2']);
  const { d, ferry, fact, conf } = at;

  it('goes back on the hosts that ran the release and installs nothing on the new one, saying so', async () => {
    expect((await ferry('deploy', 'site@1', '--limit', 'h1,h2')).code).toBe(0);
    expect((await ferry('deploy', 'site@2', '--limit', 'h1,h2')).code).toBe(0);
    const left = 'left as they are: h3, whose facts name no release of site: a rollback installs nothing where site did not run (ferry deploy site@1 does)';

    const check = await ferry('rollback', 'site', '--check');
    expect(check.stderr).toContain(left);
    expect(check.stdout).not.toMatch(/h3/);

    const back = await ferry('rollback', 'site');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toContain(`rolling back site to 1 (${d['1']!.slice(0, 12)})`);
    expect(back.stderr).toContain(left);
    for (const h of ['h1', 'h2']) {
      expect(fact(h).digest).toBe(d['1']);
      expect(conf(h)).toContain('version 1.0\n');
    }
    expect(existsSync(join(at.site.root('h3'), 'var/lib/ferry/facts/web.json'))).toBe(false);
    expect(existsSync(join(at.site.root('h3'), 'etc/web/app.conf'))).toBe(false);
    expect(back.stdout).not.toMatch(/^h3 /m);
  });
});
