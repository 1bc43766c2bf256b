import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startSshLab, type SshLab } from './sshLab.js';
import { labInventory, repo, resetHost, runFerry, webService } from './fixtures.js';
import { serveStore, type StaticServer, writeRelease } from './storeFixture.js';

describe('the deploy commands', () => {
  let dir: string;
  let lab: SshLab;
  let store: string;
  let server: StaticServer;
  let inv: string;
  const digests: Record<string, string> = {};

  const ferry = runFerry;
  const common = () => ['-i', inv, '-F', lab.sshConfig];

  beforeAll(async () => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) execFileSync('npx', ['tsc', '-p', repo]);
    dir = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
    store = join(dir, 'store');
    lab = await startSshLab(dir, ['c1', 'c2']);
    for (const h of lab.hosts) resetHost(h);
    server = await serveStore(store);
    // the epochs order the releases: rollback goes from 2 to 1
    digests['1'] = writeRelease(store, { name: 'demo', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    digests['2'] = writeRelease(store, { name: 'demo', version: '2', epoch: '2026-11-20T00:00:00Z', services: { web: webService('2.0.0') } });
    inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, labInventory(lab.hosts, { ferry_server: server.url }).text);
  });
  afterAll(async () => {
    await lab?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plans, deploys, reports status, and rolls back to the previous release', async () => {
    const plan = await ferry('plan', 'demo@1', '--store', store, ...common());
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/c1\s+web\s+stage\s+run\s+not deployed yet/);
    expect(plan.stdout).toContain('6 of 6 stages would run');

    const first = await ferry('deploy', 'demo@1', '--store', store, ...common(), '-v');
    expect(first.stderr).toMatch(/c2 web configure: ran/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/c1\s+web\s+ran \(\d+ changed\)\s+ran \(\d+ changed\)\s+ran \(\d+ changed\)/);

    const second = await ferry('deploy', 'demo', '--store', store, ...common(), '--json');
    expect(second.code).toBe(0);
    const events = second.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.type === 'stage' && e.status === 'ran').map((e) => `${e.host} ${e.stage}`).sort()).toEqual(['c1 configure', 'c1 install', 'c1 stage', 'c2 configure', 'c2 install', 'c2 stage']);
    expect(JSON.parse(second.stdout).release.version).toBe('2');

    expect((await ferry('status', ...common(), '--expect', digests['2']!)).code).toBe(0);
    const wrong = await ferry('status', ...common(), '--expect', digests['1']!);
    expect(wrong.code).toBe(72);
    expect(wrong.stderr).toContain(`c1/web runs ${digests['2']!.slice(0, 12)}`);

    const back = await ferry('rollback', 'demo', '--store', store, ...common());
    expect(back.stderr).toContain(`rolling back demo to 1 (${digests['1']!.slice(0, 12)})`);
    expect(back.code).toBe(0);
    expect((await ferry('status', ...common(), '--expect', digests['1']!)).code).toBe(0);
    for (const h of lab.hosts) expect(readFileSync(join(h.root, 'etc/web/app.conf'), 'utf8')).toContain('version 1.0.0');
  });

  it('refuses a release with a bad step before touching any host', async () => {
    const svc = webService('9');
    svc.configure = [{ template: { src: 'nope.j2', dest: '/etc/x' } }, { file: { dest: 'relative/path', content: 'x', colour: 'blue' } }];
    writeRelease(store, { name: 'bad', version: '1', services: { web: svc } });
    const before = lab.hosts.map((h) => lab.logins(h));
    const r = await ferry('deploy', 'bad@1', '--store', store, ...common());
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('services.web.configure[0]: template src nope.j2: the bundle has no files/web/nope.j2');
    expect(r.stderr).toMatch(/services\.web\.configure\[1\]\.file.*(colour|dest)/);
    expect(lab.hosts.map((h) => lab.logins(h))).toEqual(before);
    expect(readdirSync(join(lab.hosts[0]!.root, 'var/lib/ferry/bundles')).length).toBe(2);
  });

  it('exits non-zero and names the host when one cannot be reached', async () => {
    const port = await freePort();
    const bad = join(dir, 'bad-inventory.yaml');
    const hosts = [...lab.hosts, { ...lab.hosts[0]!, name: 'ghost', port, root: join(dir, 'ghost') }];
    writeFileSync(bad, labInventory(hosts, { ferry_server: server.url }).text);
    const r = await ferry('deploy', 'demo@1', '--store', store, '-i', bad, '-F', lab.sshConfig, '--retries', '1', '--retry-delay', '50');
    expect(r.code).toBe(72);
    expect(r.stdout).toMatch(/ghost: failed: host ghost .*Connection refused/);
    expect(r.stderr).toContain('1 host failed (ghost)');
  });
});
