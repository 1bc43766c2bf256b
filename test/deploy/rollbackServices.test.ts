import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * `ferry rollback site --services api`: the facts that choose the release to go back from were every
 * service's, not the ones chosen. With web at 3 (deployed with --services web) and api at 2, the rollback of
 * api went back from 3 to 2, where api already was: nothing changed, "ok". The facts of the services the
 * rollback deploys choose, as the hosts it deploys to do (folder hosts).
 */
describe('rollback --services: the facts of the services chosen choose the release (folder hosts)', () => {
  let site: ReturnType<typeof folderSite>;
  const d: Record<string, string> = {};
  const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--push');
  const fact = (h: string, s: string) => JSON.parse(readFileSync(join(site.root(h), `var/lib/ferry/facts/${s}.json`), 'utf8')) as { digest: string };
  const api = (version: string) => ({ version, groups: ['web'], files: { 'api.txt': `api ${version}\n` }, configure: [{ file: { src: 'api.txt', dest: '{{ root }}/srv/api.txt' } }] });

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    site = folderSite('rollback-services', ['h1', 'h2']);
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${readFileSync(site.inventory, 'utf8')}`);
    for (const h of ['h1', 'h2']) installFakeSystemctl(site.root(h));
    for (const v of ['1', '2', '3']) d[v] = writeRelease(site.store, { name: 'site', version: v, epoch: `2026-11-0${v}T00:00:00Z`, services: { web: webService(`${v}.0`), api: api(`${v}.0`) } });
  });
  afterAll(() => rmSync(site.dir, { recursive: true, force: true }));

  it('goes back from the release the chosen services run', async () => {
    for (const v of ['1', '2']) expect((await ferry('deploy', `site@${v}`)).code).toBe(0);
    expect((await ferry('deploy', 'site@3', '--services', 'web')).code).toBe(0);
    for (const h of ['h1', 'h2']) expect([fact(h, 'web').digest, fact(h, 'api').digest]).toEqual([d['3'], d['2']]);

    const back = await ferry('rollback', 'site', '--services', 'api');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toContain(`rolling back site to 1 (${d['1']!.slice(0, 12)})`);
    expect(back.stderr).toContain(`going back from site 2 (${d['2']!.slice(0, 12)}), the newest release of site the facts name: on 2 of the 2 hosts that run site (h1, h2)`);
    for (const h of ['h1', 'h2']) {
      expect(fact(h, 'api').digest).toBe(d['1']);
      expect(readFileSync(join(site.root(h), 'srv/api.txt'), 'utf8')).toBe('api 1.0\n');
      // web, not chosen, stays at 3
      expect(fact(h, 'web').digest).toBe(d['3']);
    }
    // a service no release has: one line, as deploy says it, no host asked
    const typo = await ferry('rollback', 'site', '--services', 'apj');
    expect(typo.code).toBe(64);
    expect(typo.stderr).toBe('ferry: --services apj: no release of site in the store has such a service; they have api, web\n');
    // without --services every service's facts choose, as before: web's 3 -> 2
    const check = await ferry('rollback', 'site', '--check');
    expect(check.stderr).toContain(`checking the hosts against site 2 (${d['2']!.slice(0, 12)})`);
  });
});
