import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployEventLine } from '../../src/deploy/deployEvents.js';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * Two releases with a service of the same name: a deploy of `site` (service web) onto a host where release
 * `app`'s web runs wrote over app's files and fact without a word (plan said `version 1.0.0 -> 7.0`), and
 * `rollback app` then found no host running app. Refused before any stage runs anywhere, unless the operator
 * names the release to replace with --take-over (folder hosts).
 */
describe('a deploy that would take over another release\'s service (folder hosts)', () => {
  let site: ReturnType<typeof folderSite>;
  const digest: Record<string, string> = {};
  const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--push');
  const plan = async (...args: string[]) => JSON.parse((await runFerry('plan', ...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--json')).stdout) as { rows: Array<{ host: string; service: string; stage: string; run: boolean; refused?: boolean; reason: string }> };
  const fact = (h: string) => JSON.parse(readFileSync(join(site.root(h), 'var/lib/ferry/facts/web.json'), 'utf8')) as { digest: string; release: { name: string; version: string } };
  /** every file of the host but the run's lock and holder line, which each run's hold writes: path and content */
  const snapshot = (h: string) => {
    const out: Record<string, string> = {};
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        const rel = relative(site.root(h), p);
        if (rel === 'var/lib/ferry/run') continue;
        if (e.isDirectory()) walk(p);
        else out[rel] = e.isFile() ? readFileSync(p, 'utf8') : `(${statSync(p).mode})`;
      }
    };
    walk(site.root(h));
    return out;
  };

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    site = folderSite('take-over', ['h1', 'h2']);
    // the template's port
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${readFileSync(site.inventory, 'utf8')}`);
    for (const h of ['h1', 'h2']) installFakeSystemctl(site.root(h));
    digest['app1'] = writeRelease(site.store, { name: 'app', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    digest['app2'] = writeRelease(site.store, { name: 'app', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: webService('2.0.0') } });
    digest['site'] = writeRelease(site.store, { name: 'site', version: '7.0', epoch: '2026-11-03T00:00:00Z', services: { web: webService('7.0') } });
  });
  afterAll(() => rmSync(site.dir, { recursive: true, force: true }));

  it('refuses site where app runs web, before any host is changed; plan shows it; --take-over app replaces it', async () => {
    const app = await ferry('deploy', 'app@1', '--limit', 'h2');
    expect(app.code, app.stderr).toBe(0);
    const before = { h1: snapshot('h1'), h2: snapshot('h2') };
    expect(fact('h2').release).toEqual({ name: 'app', version: '1' });

    // h2 runs app's web: refused, on h1 (which runs nothing) too, with one line
    const refused = await ferry('deploy', 'site@7.0');
    expect(refused.code, refused.stderr).toBe(72);
    expect(refused.stderr).toBe(
      'ferry: site 7.0 would take over services another release runs: h2/web (app 1); nothing was done: pass --take-over app to replace it, or leave those hosts or services out (--limit, --services)\n',
    );
    expect(refused.stdout).toBe('');
    expect(snapshot('h1')).toEqual(before.h1);
    expect(snapshot('h2')).toEqual(before.h2);

    // plan shows the same decision
    const planned = await plan('site@7.0');
    expect(planned.rows.filter((r) => r.host === 'h2').map((r) => [r.stage, r.run, r.refused, r.reason])).toEqual(
      ['stage', 'install', 'configure'].map((s) => [s, false, true, "takeover refused: web here is app 1's, not site's; deploying site 7.0 would replace it (pass --take-over app if that is meant)"]),
    );
    expect(planned.rows.filter((r) => r.host === 'h1').every((r) => r.run)).toBe(true);
    const meant = await plan('site@7.0', '--take-over', 'app');
    expect(meant.rows.filter((r) => r.host === 'h2').map((r) => [r.stage, r.run, r.reason])).toEqual([
      ['stage', true, 'taking over from app 1 (--take-over): version 1.0.0 -> 7.0'],
      ['install', true, 'taking over from app 1 (--take-over): version 1.0.0 -> 7.0'],
      ['configure', true, 'taking over from app 1 (--take-over): version 1.0.0 -> 7.0'],
    ]);

    // a glob names it too; one that does not match app does not
    expect((await plan('site@7.0', '--take-over', 'a*')).rows.every((r) => r.run)).toBe(true);
    expect((await plan('site@7.0', '--take-over', 'b*,site')).rows.filter((r) => r.host === 'h2').every((r) => r.refused)).toBe(true);

    // the same name, a new version: no takeover; and a rollback of app goes back to app 1
    const two = await ferry('deploy', 'app@2', '--limit', 'h2');
    expect(two.code, two.stderr).toBe(0);
    expect(fact('h2').digest).toBe(digest['app2']);
    const back = await ferry('rollback', 'app', '--limit', 'h2');
    expect(back.code, back.stderr).toBe(0);
    expect(fact('h2').digest).toBe(digest['app1']);
    expect(readFileSync(join(site.root('h2'), 'etc/web/app.conf'), 'utf8')).toContain('version 1.0.0\n');

    // named, it proceeds
    const taken = await ferry('deploy', 'site@7.0', '--take-over', 'app');
    expect(taken.code, taken.stderr).toBe(0);
    for (const h of ['h1', 'h2']) {
      expect(fact(h).release).toEqual({ name: 'site', version: '7.0' });
      expect(readFileSync(join(site.root(h), 'etc/web/app.conf'), 'utf8')).toContain('version 7.0\n');
    }
    // and app, named to take web back without --take-over site, is refused in turn
    const again = await ferry('deploy', 'app@2', '--limit', 'h2');
    expect(again.code, again.stderr).toBe(72);
    expect(again.stderr).toContain('app 2 would take over services another release runs: h2/web (site 7.0)');
    expect(fact('h2').release).toEqual({ name: 'site', version: '7.0' });
  });
});

/**
 * The same refusal under --json: the events of a run that printed run-start must end with one run-end, or a
 * program reading the stream cannot tell the run ended (it had none: run-start, then the error line). Deploy
 * and rollback (which deploys the release it goes back to) alike; exit 72 and the one line, no report.
 */
describe('a takeover refused under --json (folder hosts)', () => {
  let site: ReturnType<typeof folderSite>;
  const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '--push');
  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    site = folderSite('take-over-json', ['h1', 'h2']);
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${readFileSync(site.inventory, 'utf8')}`);
    for (const h of ['h1', 'h2']) installFakeSystemctl(site.root(h));
    writeRelease(site.store, { name: 'app', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    writeRelease(site.store, { name: 'site', version: '6.0', epoch: '2026-11-02T00:00:00Z', services: { web: webService('6.0') } });
    writeRelease(site.store, { name: 'site', version: '7.0', epoch: '2026-11-03T00:00:00Z', services: { web: webService('7.0') } });
  });
  afterAll(() => rmSync(site.dir, { recursive: true, force: true }));

  it('ends the event stream with one run-end (ok false, the takeover its failure), then the one line, exit 72', async () => {
    const app = await ferry('deploy', 'app@1', '--limit', 'h2');
    expect(app.code, app.stderr).toBe(0);
    const line = 'ferry: site 7.0 would take over services another release runs: h2/web (app 1); nothing was done: pass --take-over app to replace it, or leave those hosts or services out (--limit, --services)';
    const reason = "host h2, service web: takeover refused: web here is app 1's, not site's; deploying site 7.0 would replace it (pass --take-over app if that is meant)";
    const check = (r: { code: number | null; stdout: string; stderr: string }, lineWanted: string, reasonWanted: string) => {
      expect(r.code, r.stderr).toBe(72);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines.at(-1)).toBe(lineWanted);
      const events = lines.slice(0, -1).map((l) => DeployEventLine.parse(JSON.parse(l)));
      const types = events.map((e) => e.type).filter((t) => t !== 'info' && t !== 'warn');
      expect(types[0]).toBe('run-start');
      expect(types.at(-1)).toBe('run-end');
      expect(types.filter((t) => t === 'run-end')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'stage').every((e) => e.type === 'stage' && e.status !== 'start' && e.status !== 'ran')).toBe(true);
      const end = events.at(-1)!;
      if (end.type !== 'run-end') throw new Error('no run-end last');
      expect({ ok: end.ok, hosts: end.hosts, stages: end.stages, failures: end.failures }).toEqual({
        ok: false,
        hosts: { total: 2, ok: 0, failed: 1, notReached: 1 },
        stages: { stage: { ran: 0, skipped: 0, failed: 1, notRun: 1 }, install: { ran: 0, skipped: 0, failed: 0, notRun: 2 }, configure: { ran: 0, skipped: 0, failed: 0, notRun: 2 } },
        failures: [{ host: 'h2', service: 'web', stage: 'stage', reason: reasonWanted }],
      });
      // the host events are as many as run-end counts
      expect(events.filter((e) => e.type === 'host').map((e) => e.type === 'host' && [e.host, e.status])).toEqual([['h2', 'failed']]);
    };
    check(await ferry('deploy', 'site@7.0', '--json'), line, reason);
    // rollback deploys through the same run: site 6.0 on both hosts, h2 running app's web
    check(
      await ferry('rollback', 'site', '--to', '6.0', '--json'),
      line.replace('site 7.0', 'site 6.0'),
      reason.replace('site 7.0', 'site 6.0'),
    );
    expect(JSON.parse(readFileSync(join(site.root('h2'), 'var/lib/ferry/facts/web.json'), 'utf8')).release).toEqual({ name: 'app', version: '1' });
    expect(existsSync(join(site.root('h1'), 'var/lib/ferry/facts/web.json'))).toBe(false);
  });
});
