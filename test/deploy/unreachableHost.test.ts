import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSite } from './folderSite.js';
import { installFakeSystemctl, repo, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * A host down for the whole run (its connection refused or dropped at every try). The deploy report counted
 * its tries as the commands it ran there (COMMANDS 4 with the default --retries 3, where none ran) and said
 * its stages were not run because the "host failed earlier"; `ferry status` left it out of its table, and its
 * last line counted it among the hosts the bundle digests were found on. Two folder hosts and one whose
 * address is a loopback listener that drops every connection (ssh exit 255).
 */
describe('a host never reached', () => {
  let site: ReturnType<typeof folderSite>;
  let server: Server;
  let sshConfig = '';

  beforeAll(async () => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    site = folderSite('unreached', ['h1', 'h2']);
    for (const h of ['h1', 'h2']) installFakeSystemctl(site.root(h));
    const inv = parse(readFileSync(site.inventory, 'utf8')) as { groups: { web: { hosts: string[] } }; hosts: Record<string, unknown>; vars?: unknown };
    inv.vars = { port: 8080 };
    inv.groups.web.hosts.push('down1');
    inv.hosts.down1 = { address: '127.0.0.1', port: (server.address() as { port: number }).port, vars: { root: join(site.dir, 'down1') } };
    writeFileSync(site.inventory, stringify(inv));
    sshConfig = join(site.dir, 'ssh_config');
    writeFileSync(sshConfig, '');
    writeRelease(site.store, { name: 'un', version: '1', services: { web: webService('1.0.0') } });
  });
  afterAll(() => {
    server?.close();
    if (site) rmSync(site.dir, { recursive: true, force: true });
  });
  const ferry = (...args: string[]) => runFerry(...args, '--store', site.store, '-i', site.inventory, '--allow-local', '-F', sshConfig);

  it('the report counts no command on it and says it was not reached; status lists it as unreachable', async () => {
    const run = await ferry('deploy', 'un@1', '--push', '--retries', '1', '--retry-delay', '1');
    expect(run.code, run.stderr).toBe(72);
    const row = run.stdout.split('\n').find((l) => l.startsWith('down1 '));
    expect(row?.split(/\s{2,}/)).toEqual(['down1', 'web', 'not run', 'not run', 'not run', '0']);
    expect(run.stdout).toMatch(/^down1: failed: host down1 \(127\.0\.0\.1:\d+\): ssh: .*; not reached in 2 tries$/m);
    for (const stage of ['stage', 'install', 'configure']) expect(run.stdout).toContain(`\n${stage} not run on 1 (down1 web): host unreachable\n`);
    const json = await ferry('deploy', 'un@1', '--push', '--retries', '0', '--json');
    const report = JSON.parse(json.stdout) as { hosts: Array<{ host: string; commands: number; error?: string }> };
    expect(report.hosts.find((h) => h.host === 'down1')).toMatchObject({ commands: 0, error: expect.stringMatching(/; not reached in 1 try$/) });
    expect(report.hosts.find((h) => h.host === 'h1')!.commands).toBeGreaterThan(0);

    const status = await ferry('status', '--retries', '0');
    expect(status.code).toBe(72);
    expect(status.stdout.split('\n').find((l) => l.startsWith('down1 '))?.split(/\s{2,}/)).toEqual(['down1', '?', 'unreachable', 'unknown']);
    expect(status.stdout).toMatch(/\n1 distinct bundle digest across 3 hosts \([0-9a-f]{12}\); 1 of them unreachable, what it runs is not known\n$/);
    expect(status.stderr).toBe('ferry: 1 host(s) could not be asked for their facts: down1\n');
  });
});
