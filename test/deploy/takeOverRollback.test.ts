import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { StatusReportSchema } from '../../src/deploy/statusReport.js';

/**
 * `ferry deploy site --take-over app` replaced app's web on a host; `ferry rollback site` then said site's
 * release was the oldest in the store, nothing to go back to (exit 71), and `rollback app` that no host runs
 * app (exit 71, no word of the takeover). Where site had an older release, the rollback deployed that one over
 * the host app had run, a release that never ran there. A rollback of the release that took a service over puts
 * the release it took it from back on those hosts (folder hosts).
 */
describe('rollback of a release that took over another release\'s service (folder hosts)', () => {
  const sites: Array<ReturnType<typeof folderSite>> = [];
  const setUp = (prefix: string, hosts: string[]) => {
    const site = folderSite(prefix, hosts);
    sites.push(site);
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${readFileSync(site.inventory, 'utf8')}`);
    for (const h of hosts) installFakeSystemctl(site.root(h));
    const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--push');
    const fact = (h: string) => JSON.parse(readFileSync(join(site.root(h), 'var/lib/ferry/facts/web.json'), 'utf8')) as { digest: string; release: { name: string; version: string }; tookOver?: { release: { name: string; version: string }; digest: string; by: string } };
    const conf = (h: string) => readFileSync(join(site.root(h), 'etc/web/app.conf'), 'utf8');
    return { site, ferry, fact, conf };
  };

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
  });
  afterAll(() => {
    for (const s of sites) rmSync(s.dir, { recursive: true, force: true });
  });

  it('puts app back where site took web over, leaves the host where site took over nothing, and says so', async () => {
    const { site, ferry, fact, conf } = setUp('takeover-rollback-only', ['h1', 'h2']);
    const app1 = writeRelease(site.store, { name: 'app', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const site7 = writeRelease(site.store, { name: 'site', version: '7.0', epoch: '2026-11-03T00:00:00Z', services: { web: webService('7.0') } });
    expect((await ferry('deploy', 'app@1', '--limit', 'h2')).code).toBe(0);
    const taken = await ferry('deploy', 'site@7.0', '--take-over', 'app');
    expect(taken.code, taken.stderr).toBe(0);
    expect(fact('h2').tookOver).toMatchObject({ release: { name: 'app', version: '1' }, digest: app1, by: site7 });
    expect(fact('h1').tookOver).toBeUndefined();

    // rollback app: nothing of app runs, and the line says what puts it back
    const app = await ferry('rollback', 'app');
    expect(app.code, app.stderr).toBe(71);
    expect(app.stderr).toBe("ferry: no host's facts name a release of app: there is nothing to roll back; site took over web on h2 from app 1: ferry rollback site --limit h2 puts it back\n");

    // a preview names the hosts and the release, changing nothing
    const check = await ferry('rollback', 'site', '--check');
    expect(check.stderr).toContain(`rolling back site on h2 to app 1 (${app1.slice(0, 12)}), whose web site 7.0 took over there (--take-over)`);
    expect(fact('h2').release).toEqual({ name: 'site', version: '7.0' });

    const back = await ferry('rollback', 'site');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toContain(`rolling back site on h2 to app 1 (${app1.slice(0, 12)}), whose web site 7.0 took over there (--take-over)`);
    expect(back.stderr).toContain('site 7.0 stays on h1: it took over nothing there, and it is the oldest release of site in the store');
    expect(fact('h2')).toMatchObject({ digest: app1, release: { name: 'app', version: '1' } });
    expect(conf('h2')).toContain('version 1.0.0\n');
    expect(fact('h1')).toMatchObject({ digest: site7, release: { name: 'site', version: '7.0' } });
    expect(conf('h1')).toContain('version 7.0\n');
  });

  it('where site has an older release and also runs where it took over nothing: refused with the commands that go back, which do', async () => {
    const { site, ferry, fact, conf } = setUp('takeover-rollback-mixed', ['h1', 'h2', 'h3']);
    const app1 = writeRelease(site.store, { name: 'app', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const site6 = writeRelease(site.store, { name: 'site', version: '6.0', epoch: '2026-11-02T00:00:00Z', services: { web: webService('6.0') } });
    const site7 = writeRelease(site.store, { name: 'site', version: '7.0', epoch: '2026-11-03T00:00:00Z', services: { web: webService('7.0') } });
    expect((await ferry('deploy', 'site@6.0', '--limit', 'h1')).code).toBe(0);
    expect((await ferry('deploy', 'app@1', '--limit', 'h2,h3')).code).toBe(0);
    expect((await ferry('deploy', 'site@7.0', '--take-over', 'app')).code).toBe(0);
    // a later deploy of the same bundle keeps what it took over
    expect((await ferry('deploy', 'site@7.0', '--limit', 'h2')).code).toBe(0);
    expect(fact('h2').tookOver).toMatchObject({ digest: app1, by: site7 });

    const refused = await ferry('rollback', 'site');
    expect(refused.code, refused.stderr).toBe(72);
    expect(refused.stderr).toBe(
      `ferry: rollback of site changes nothing: site 7.0 (${site7.slice(0, 12)}) took over web on h2, h3 from app 1 (--take-over), and runs on h1 where it took over nothing; a rollback goes to one release: go back one set of hosts at a time: ferry rollback site --limit h2,h3 (app 1 back), then ferry rollback site --limit h1 (site 6.0)\n`,
    );
    for (const h of ['h1', 'h2', 'h3']) expect(fact(h).digest).toBe(site7);

    const takenBack = await ferry('rollback', 'site', '--limit', 'h2,h3');
    expect(takenBack.code, takenBack.stderr).toBe(0);
    const before = await ferry('rollback', 'site', '--limit', 'h1');
    expect(before.code, before.stderr).toBe(0);
    expect(fact('h1')).toMatchObject({ digest: site6, release: { name: 'site', version: '6.0' } });
    expect(conf('h1')).toContain('version 6.0\n');
    for (const h of ['h2', 'h3']) {
      expect(fact(h)).toMatchObject({ digest: app1, release: { name: 'app', version: '1' } });
      expect(conf(h)).toContain('version 1.0.0\n');
    }
  });
});

/**
 * `ferry status` did not show that a host's service had been taken over from another release (the fact's
 * `tookOver`): the operator could not see that a rollback would put that release back there, not an older one
 * of the release that runs. Status names it, in a line under the table and in --json, and what it says the
 * rollbacks do, they do (folder hosts).
 */
describe('status shows the services a release took over, and what a rollback puts back (folder hosts)', () => {
  let dir = '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('names the release taken over per host, before and after a later bundle, and the rollbacks do what it says', async () => {
    const site = folderSite('takeover-status', ['h1', 'h2']);
    dir = site.dir;
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${readFileSync(site.inventory, 'utf8')}`);
    for (const h of ['h1', 'h2']) installFakeSystemctl(site.root(h));
    const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--push');
    const status = (...args: string[]) => runFerry('status', '--store', site.store, '-i', site.inventory, '--allow-local', ...args);
    const app1 = writeRelease(site.store, { name: 'app', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const site7 = writeRelease(site.store, { name: 'site', version: '7.0', epoch: '2026-11-03T00:00:00Z', services: { web: webService('7.0') } });
    writeRelease(site.store, { name: 'site', version: '8.0', epoch: '2026-11-04T00:00:00Z', services: { web: webService('8.0') } });
    expect((await ferry('deploy', 'app@1', '--limit', 'h2')).code).toBe(0);
    expect((await ferry('deploy', 'site@7.0', '--take-over', 'app')).code).toBe(0);

    const taken = await status();
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stdout).toContain(`\ntook over: web on h2 from app 1 (${app1.slice(0, 12)}) with --take-over; a rollback of site 7.0 puts app 1 back there\n`);
    expect(taken.stdout.match(/took over/g)).toHaveLength(1);
    // the documented schema of status --json (strict: a field it does not name fails)
    const json = StatusReportSchema.parse(JSON.parse((await status('--json')).stdout));
    expect(json.rows.find((r) => r.host === 'h2')!.tookOver).toMatchObject({ release: 'app 1', digest: app1, by: site7 });
    expect(json.rows.find((r) => r.host === 'h1')!.tookOver).toBeUndefined();

    // a later bundle of site keeps what 7.0 took over: a rollback goes to 7.0 first
    expect((await ferry('deploy', 'site@8.0')).code).toBe(0);
    const later = await status();
    expect(later.stdout).toContain(`\ntook over: web on h2 from app 1 (${app1.slice(0, 12)}) with --take-over, by bundle ${site7.slice(0, 12)}; a rollback of site 8.0 goes back to that bundle first, and one from it puts app 1 back there\n`);
    const first = await ferry('rollback', 'site');
    expect(first.code, first.stderr).toBe(0);
    expect(readFileSync(join(site.root('h2'), 'etc/web/app.conf'), 'utf8')).toContain('version 7.0\n');
    expect((await status()).stdout).toContain(`\ntook over: web on h2 from app 1 (${app1.slice(0, 12)}) with --take-over; a rollback of site 7.0 puts app 1 back there\n`);
    const second = await ferry('rollback', 'site');
    expect(second.code, second.stderr).toBe(0);
    expect(readFileSync(join(site.root('h2'), 'etc/web/app.conf'), 'utf8')).toContain('version 1.0.0\n');
    // the rollback put app back over site (as --take-over site would): that is what a rollback of app undoes now
    const back = await status('--json');
    expect((JSON.parse(back.stdout) as { rows: Array<{ host: string; tookOver?: unknown }> }).rows.find((r) => r.host === 'h2')!.tookOver).toMatchObject({ release: 'site 7.0', digest: site7, by: app1 });
  });
});

/**
 * A rollback that puts back a release taken over, on a host the inventory has since moved out of that
 * release's group: the rollback said it would put app 1 back, then deploying app 1 there was refused as
 * "release app 1 gives no service to the host chosen (h2) … check --limit" (exit 64), with nothing said of
 * the takeover or what to do; the refusal of mixed hosts sent the operator to that same command. Now one line
 * (exit 72) before any host is changed, naming the host, the group and both ways on, which work (folder hosts).
 */
describe('rollback of a takeover where the inventory no longer gives the host the service taken over (folder hosts)', () => {
  let dir = '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses with what to do, and each way it names works', async () => {
    const site = folderSite('takeover-moved', ['h1', 'h2']);
    dir = site.dir;
    const base = readFileSync(site.inventory, 'utf8');
    const inventory = (appweb: string[]) => writeFileSync(site.inventory, `vars: { port: 8080 }\n${base.replace('groups:\n', `groups:\n  appweb: { hosts: [${appweb.join(', ')}] }\n`)}`);
    inventory(['h2']);
    for (const h of ['h1', 'h2']) installFakeSystemctl(site.root(h));
    const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--push');
    const fact = (h: string) => JSON.parse(readFileSync(join(site.root(h), 'var/lib/ferry/facts/web.json'), 'utf8')) as { digest: string };
    const app1 = writeRelease(site.store, { name: 'app', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0', { groups: ['appweb'] }) } });
    const site6 = writeRelease(site.store, { name: 'site', version: '6.0', epoch: '2026-11-02T00:00:00Z', services: { web: webService('6.0') } });
    const site7 = writeRelease(site.store, { name: 'site', version: '7.0', epoch: '2026-11-03T00:00:00Z', services: { web: webService('7.0') } });
    expect((await ferry('deploy', 'site@6.0', '--limit', 'h1')).code).toBe(0);
    expect((await ferry('deploy', 'app@1')).code).toBe(0);
    expect((await ferry('deploy', 'site@7.0', '--take-over', 'app')).code).toBe(0);
    // h2 leaves app's group
    inventory([]);

    const line = `ferry: rollback of site changes nothing: site 7.0 (${site7.slice(0, 12)}) took over web on h2 from app 1 (--take-over), and the inventory no longer gives h2 web of app 1 (web runs on group appweb): to put app 1 back there, add the host to that group again and roll back; to keep site 7.0 there, leave it out with --limit '!h2'\n`;
    for (const args of [[], ['--limit', 'h2'], ['--check']]) {
      const refused = await ferry('rollback', 'site', ...args);
      expect(refused.code, refused.stderr).toBe(72);
      expect(refused.stderr.split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([line.trimEnd()]);
    }
    for (const h of ['h1', 'h2']) expect(fact(h).digest).toBe(site7);
    // rollback app, which no host runs, points at site's rollback, and says what it needs first
    const app = await ferry('rollback', 'app');
    expect(app.code).toBe(71);
    expect(app.stderr).toBe("ferry: no host's facts name a release of app: there is nothing to roll back; site took over web on h2 from app 1: ferry rollback site --limit h2 puts it back, once h2 is in its group again (web of app runs on group appweb)\n");

    // one way: leave h2 out; h1 goes back to site 6.0 and h2 keeps site 7.0
    const without = await ferry('rollback', 'site', '--limit', '!h2');
    expect(without.code, without.stderr).toBe(0);
    expect(fact('h1').digest).toBe(site6);
    expect(fact('h2').digest).toBe(site7);
    // the other: h2 in app's group again, and app 1 goes back there
    inventory(['h2']);
    const back = await ferry('rollback', 'site');
    expect(back.code, back.stderr).toBe(0);
    expect(fact('h2').digest).toBe(app1);
    expect(readFileSync(join(site.root('h2'), 'etc/web/app.conf'), 'utf8')).toContain('version 1.0.0\n');
    expect(fact('h1').digest).toBe(site6);
  });
});

/**
 * The refusal of a rollback whose hosts need different releases named every host, twice, and gave each
 * command a --limit of every name: 660 characters at 30 hosts. It names five hosts per set and counts the
 * rest, and each --limit is as short as the names allow (limitFor); the commands still do it (folder hosts).
 */
describe('rollback of mixed hosts at 20 hosts: a bounded line whose commands work (folder hosts)', () => {
  let dir = '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('names five hosts a set, gives prefix --limits, and they go back', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `web${String(i + 1).padStart(2, '0')}`);
    const site = folderSite('takeover-mixed-many', names);
    dir = site.dir;
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${readFileSync(site.inventory, 'utf8')}`);
    for (const h of names) installFakeSystemctl(site.root(h));
    const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--push', '--serial', '100%');
    const fact = (h: string) => JSON.parse(readFileSync(join(site.root(h), 'var/lib/ferry/facts/web.json'), 'utf8')) as { digest: string };
    const app1 = writeRelease(site.store, { name: 'app', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const site6 = writeRelease(site.store, { name: 'site', version: '6.0', epoch: '2026-11-02T00:00:00Z', services: { web: webService('6.0') } });
    const site7 = writeRelease(site.store, { name: 'site', version: '7.0', epoch: '2026-11-03T00:00:00Z', services: { web: webService('7.0') } });
    expect((await ferry('deploy', 'site@6.0', '--limit', 'web0*')).code).toBe(0);
    expect((await ferry('deploy', 'app@1', '--limit', 'web1*,web20')).code).toBe(0);
    expect((await ferry('deploy', 'site@7.0', '--take-over', 'app')).code).toBe(0);

    const refused = await ferry('rollback', 'site');
    expect(refused.code, refused.stderr).toBe(72);
    expect(refused.stderr).toBe(
      `ferry: rollback of site changes nothing: site 7.0 (${site7.slice(0, 12)}) took over web on web10, web11, web12, web13, web14 and 6 more from app 1 (--take-over), and runs on web01, web02, web03, web04, web05 and 4 more where it took over nothing; a rollback goes to one release: go back one set of hosts at a time: ferry rollback site --limit 'web1*,web20' (app 1 back), then ferry rollback site --limit 'web0*' (site 6.0)\n`,
    );
    expect((await ferry('rollback', 'site', '--limit', 'web1*,web20')).code).toBe(0);
    expect((await ferry('rollback', 'site', '--limit', 'web0*')).code).toBe(0);
    for (const h of names) expect(fact(h).digest, h).toBe(h < 'web10' ? site6 : app1);
  });
});
