import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { importDemoBundle } from '../helpers/demoBundle.js';
import { spawnServe, type ServeProcess } from '../serve/spawnServe.js';
import { startSshLab, type SshLab } from './sshLab.js';


describe('the demo bundle, built, imported, served by ferry serve and deployed over ssh', () => {
  let dir: string;
  let store: string;
  let digest: string;
  let serve: ServeProcess;
  let lab: SshLab;
  let inventory: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-e2e-'));
    await chmod(dir, 0o755);
    const team = await writeKey(dir, 'team');
    ({ store, digest } = await importDemoBundle(dir, team));
    serve = await spawnServe(['--store', store, '--listen', '127.0.0.1:0']);
    lab = await startSshLab(dir, ['web1', 'web2']);
    inventory = join(dir, 'inventory.yaml');
    await writeFile(
      inventory,
      stringify({
        vars: { ferry_server: serve.url, greeting: 'hello', workers: 2 },
        groups: { web: { hosts: ['web1', 'web2'] } },
        hosts: Object.fromEntries(lab.hosts.map((h) => [h.name, { address: h.address, port: h.port, vars: { ferry_root: h.root, ferry_data_dir: '{{ ferry_root }}/var/lib/ferry', ferry_ansible_facts_dir: '{{ ferry_root }}/etc/ansible/facts.d', ...(h.name === 'web2' ? { workers: 8 } : {}) } }])),
      }),
    );
  });
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await lab?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('installs and configures every host, then finds nothing to do', async () => {
    const first = await ferry(['deploy', 'demo', '--store', store, '-i', inventory, '-F', lab.sshConfig]);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    for (const h of lab.hosts) {
      expect(await readFile(join(h.root, 'etc/hello/hello.conf'), 'utf8')).toBe(`# rendered by ferry for ${h.name}\ngreeting = hello\nworkers = ${h.name === 'web2' ? 8 : 2}\n`);
      expect((await stat(join(h.root, 'opt/hello/hello.sh'))).mode & 0o777).toBe(0o755);
    }
    const status = await ferry(['status', '-i', inventory, '-F', lab.sshConfig, '--expect', digest]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/web2\s+hello\s+demo 1.0.0\s+1.0.0\s+[0-9a-f]{12}\s+done\s+done\s+done\s+yes/);

    const again = await ferry(['deploy', 'demo@1.0.0', '--store', store, '-i', inventory, '-F', lab.sshConfig, '--json']);
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout) as { hosts: Array<{ host: string; commands: number; services: Record<string, Record<string, { status: string }>> }> };
    expect(report.hosts.flatMap((h) => Object.values(h.services.hello!).map((s) => s.status))).toEqual(Array(6).fill('skipped'));
    // one command per host, reading the facts, plus a repeat for each retry a slow machine needed
    const events = again.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; host?: string });
    const retries = (host: string) => events.filter((e) => e.type === 'retry' && e.host === host).length;
    expect(report.hosts.map((h) => h.commands - retries(h.host))).toEqual([1, 1]);
  });
});
