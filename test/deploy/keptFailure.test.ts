import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { serveStore, type StaticServer, writeRelease } from './storeFixture.js';
import { until } from '../helpers/until.js';

/**
 * A fact holds one failure. A stage run again by --force (or --repair) while a later stage's failure, or its
 * mark that it had not finished, is recorded keeps that one (`earlier`) to put back when it completes; when the
 * forced stage failed instead, or when the later stage's record was an unfinished mark, it was dropped. The
 * later stage, done by its older record, was then skipped: a deploy reported the host ok, status complete,
 * while its health check still failed or its install had been stopped half way.
 */
describe('a later stage failure kept across a forced earlier stage (folder hosts)', () => {
  let site: ReturnType<typeof folderSite>;
  let empty: StaticServer;
  const h1 = () => site.root('h1');
  const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local');
  const status = async () => JSON.parse((await runFerry('status', '-i', site.inventory, '--allow-local', '--json')).stdout).rows[0] as { complete: boolean; stages: Record<string, string> };

  beforeAll(async () => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    site = folderSite('kept-failure', ['h1']);
    // the template's port
    writeFileSync(site.inventory, `vars: { port: 8080 }\n${readFileSync(site.inventory, 'utf8')}`);
    installFakeSystemctl(h1());
    // the health check fails while ROOT/broken exists; install waits in ROOT/hold-install while that exists
    const web = webService('1.0.0', {
      install: [{ command: { run: 'if [ -e {{ root }}/hold-install ]; then touch {{ root }}/in-install; sleep 3600; fi' } }],
    });
    web.configure = [...web.configure!.slice(0, 2), { command: { run: 'test ! -e {{ root }}/broken' } }, ...web.configure!.slice(3)];
    writeRelease(site.store, { name: 'kf', version: '1', services: { web } });
    // a ferry serve that has nothing: a stage that must fetch fails
    const nothing = join(site.dir, 'empty-store');
    empty = await serveStore(nothing);
  });
  afterAll(async () => {
    await empty?.close();
    rmSync(site.dir, { recursive: true, force: true });
  });

  /** take a staged file off the host, so that the stage stage must fetch it again */
  const unstage = () => {
    const data = join(h1(), 'var/lib/ferry');
    for (const b of readdirSync(join(data, 'bundles'))) rmSync(join(data, 'bundles', b, 'files/web/static.txt'), { force: true });
    for (const b of readdirSync(join(data, 'blobs/sha256'))) rmSync(join(data, 'blobs/sha256', b));
  };

  it('a failed health check stays to do after a forced stage failed, then completed', async () => {
    const first = await ferry('deploy', 'kf@1', '--push');
    expect(first.code, first.stderr).toBe(0);
    writeFileSync(join(h1(), 'broken'), '');
    const check = await ferry('deploy', 'kf@1', '--push', '--force', 'configure');
    expect(check.code, check.stderr).toBe(72);
    expect((await status()).stages.configure).toBe('failed');

    // the forced stage fails: its server has nothing
    unstage();
    const stage = await ferry('deploy', 'kf@1', '--force', 'stage', '--server', empty.url, '--retries', '0');
    expect(stage.code, stage.stderr).toBe(72);
    expect(stage.stderr).toMatch(/FAILED h1 web stage/);
    // status and plan tell the configure failure the fact keeps behind the stage's
    expect((await status()).stages).toEqual({ stage: 'failed', install: 'done', configure: 'failed' });
    const plan = JSON.parse((await ferry('plan', 'kf@1', '--json')).stdout) as { rows: Array<{ stage: string; run: boolean; reason: string }> };
    expect(plan.rows.map((r) => `${r.stage} ${r.run ? 'run' : 'skip'}`)).toEqual(['stage run', 'install skip', 'configure run']);
    expect(plan.rows[2]!.reason).toMatch(/^configure failed at \S+, running again$/);

    // the plain re-run completes the stage, then runs configure again: the health check still fails
    const again = await ferry('deploy', 'kf@1', '--push', '--json');
    const events = again.stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; stage?: string; status?: string });
    expect(events.filter((e) => e.type === 'stage' && e.status !== 'start').map((e) => `${e.stage} ${e.status}`)).toEqual(['stage ran', 'install skipped', 'configure failed']);
    expect(again.code).toBe(72);
    const s = await status();
    expect(s.complete).toBe(false);
    expect(s.stages.configure).toBe('failed');

    rmSync(join(h1(), 'broken'));
    expect((await ferry('deploy', 'kf@1', '--push')).code).toBe(0);
    expect((await status()).complete).toBe(true);
  });

  it('an install the runner was killed in stays to do after a forced stage completed', async () => {
    rmSync(join(h1(), 'broken'), { force: true });
    expect((await ferry('deploy', 'kf@1', '--push')).code).toBe(0);
    writeFileSync(join(h1(), 'hold-install'), '');
    rmSync(join(h1(), 'in-install'), { force: true });
    const child = spawn('node', [join(repo, 'bin/ferry.js'), 'deploy', 'kf@1', '--force', 'install', '--push', '--store', site.store, '-i', site.inventory, '--allow-local'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('close', (_code, signal) => r(signal)));
    await until('install to start', () => existsSync(join(h1(), 'in-install')));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    rmSync(join(h1(), 'hold-install'));
    expect((await status()).stages.install).toBe('failed');
    expect(JSON.parse(readFileSync(join(h1(), 'var/lib/ferry/facts/web.json'), 'utf8')).failure).toMatchObject({ stage: 'install', unfinished: true });
    const plan = JSON.parse((await ferry('plan', 'kf@1', '--force', 'stage', '--json')).stdout) as { rows: Array<{ stage: string; run: boolean; reason: string }> };
    expect(plan.rows.map((r) => `${r.stage} ${r.run ? 'run' : 'skip'}`)).toEqual(['stage run', 'install run', 'configure run']);

    // the forced stage completes; the install the killed run left is run again in the same run, and configure restarts for it
    const forced = await ferry('deploy', 'kf@1', '--push', '--force', 'stage', '--json');
    const events = forced.stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; stage?: string; status?: string; reason?: string });
    expect(events.filter((e) => e.type === 'stage' && e.status !== 'start').map((e) => `${e.stage} ${e.status}`)).toEqual(['stage ran', 'install ran', 'configure ran']);
    expect(events.find((e) => e.type === 'stage' && e.stage === 'install' && e.status === 'ran')?.reason).toMatch(/^install did not finish \(started /);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await status()).complete).toBe(true);
  });
});
