import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { repo, resetHost, runFerry, useLab, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

/**
 * A --limit (or --services) that matches hosts, none of which the release gives a service (the db group
 * for a release of web services): the run would do nothing and report every host ok, exit 0. It is
 * refused as a --limit that matches no host is, before any host is touched. Real sshd hosts.
 */
describe('a selection the release has nothing for', () => {
  const ctx = useLab('limit-nothing', ['ln-w1', 'ln-d1']);
  let inv = '';
  const ferry = (...args: string[]) => runFerry(...args, '--store', ctx.store, '-i', inv, '-F', ctx.lab.sshConfig);
  const touched = (i: number) => existsSync(join(ctx.lab.hosts[i]!.root, 'var/lib/ferry'));

  beforeAll(() => {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
    for (const h of ctx.lab.hosts) resetHost(h);
    inv = join(ctx.dir, 'inventory.yaml');
    const [w1, d1] = ctx.lab.hosts as [(typeof ctx.lab.hosts)[number], (typeof ctx.lab.hosts)[number]];
    const host = (h: typeof w1) => ({ address: h.address, port: h.port, vars: { root: h.root, ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } });
    writeFileSync(inv, stringify({ vars: { ferry_server: ctx.server.url, port: 8080 }, groups: { web: { hosts: [w1.name] }, db: { hosts: [d1.name] } }, hosts: { [w1.name]: host(w1), [d1.name]: host(d1) } }));
    writeRelease(ctx.store, { name: 'ln', version: '1', services: { web: webService('1.0.0') } });
  });

  it('refuses deploy, --check and plan with one line (exit 64), touching no host', async () => {
    const line = 'ferry: release ln 1 gives no service to the host chosen (ln-d1): web runs on group web; nothing would be deployed: check --limit and the inventory\'s groups';
    for (const args of [['deploy', 'ln@1', '--limit', 'db'], ['deploy', 'ln@1', '--limit', 'ln-d1', '--check'], ['plan', 'ln@1', '--limit', 'db']]) {
      const r = await ferry(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(64);
      expect(r.stderr.trim().split('\n').at(-1)).toBe(line);
    }
    const services = await ferry('deploy', 'ln@1', '--limit', 'db', '--services', 'web');
    expect(services.code, services.stderr).toBe(64);
    expect(services.stderr).toContain('gives none of the services web to the host chosen (ln-d1)');
    expect([touched(0), touched(1)]).toEqual([false, false]);
  });

  it('still deploys a selection where some host gets a service', async () => {
    const r = await ferry('deploy', 'ln@1', '--limit', 'web,db');
    expect(r.code, r.stderr).toBe(0);
    expect(touched(0)).toBe(true);
  });
});
