import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusReportSchema, type StatusReport } from '../../src/deploy/statusReport.js';
import { ferry, run } from '../helpers/cli.js';
import { canRunLab, labFor, type Lab } from '../helpers/lab.js';
import { spawnServe, type ServeProcess } from '../serve/spawnServe.js';
import { writeRelease, type FixtureService } from '../deploy/storeFixture.js';

const enabled = await canRunLab();
// two regions, each its own lab network (its own claimed subnet) with its own runner store and ferry serve
const north = await labFor('n', 2);
const south = await labFor('s', 1);

const app = (version: string): FixtureService => ({
  version,
  groups: ['app'],
  files: { 'app.conf.j2': 'region {{ region_name }}\nhost {{ inventory_hostname }}\nversion {{ ferry_version }}\n' },
  configure: [{ template: { src: 'app.conf.j2', dest: '/etc/regionapp/app.conf', mode: '0644' } }],
});

/**
 * Several regions, one release: one runner per region with its own store and `ferry serve`, the facts on
 * the hosts the only shared state. Both regions deploy the same bundle and one `ferry status` over both
 * inventories shows it; cut one region off and the other still deploys and reports.
 */
describe.skipIf(!enabled)('two regions on two lab networks', () => {
  let dir: string;
  const serves: ServeProcess[] = [];
  const regions = [
    { name: 'north', lab: north, hosts: 2, store: '', inventory: '', ssh: '' },
    { name: 'south', lab: south, hosts: 1, store: '', inventory: '', ssh: '' },
  ];
  let both: string;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-regions-');
    const [n, s] = await Promise.all([north.sh(['up', '2']), south.sh(['up', '1'])]);
    expect(n.code, n.stderr).toBe(0);
    expect(s.code, s.stderr).toBe(0);
    const sshBlocks: string[] = [];
    for (const r of regions) {
      // each region's secure side imports the same release into its own store
      r.store = join(dir, `${r.name}-store`);
      for (const v of ['1', '2']) {
        const d = writeRelease(r.store, { name: 'multi', version: v, epoch: `2026-11-0${v}T00:00:00Z`, services: { app: app(`${v}.0.0`) } });
        if (digests[v]) expect(d).toBe(digests[v]);
        digests[v] = d;
      }
      // ferry serve on the runner's side of the region's links
      const serve = await spawnServe(['--store', r.store, '--listen', '0.0.0.0:0', '--no-access-log']);
      serves.push(serve);
      const port = new URL(serve.url).port;
      const ips = Array.from({ length: r.hosts }, (_, k) => r.lab.hostIp(k + 1));
      const block = [`Host ${ips.join(' ')}`, '  User root', `  IdentityFile ${r.lab.dir}/id_ed25519`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${r.lab.dir}/known_hosts`, '  StrictHostKeyChecking yes', ''].join('\n');
      sshBlocks.push(block);
      r.ssh = join(dir, `${r.name}.ssh_config`);
      writeFileSync(r.ssh, block);
      const doc = {
        // north is named by its file, south by its region: key
        ...(r.name === 'south' ? { region: 'south' } : {}),
        vars: { region_name: r.name },
        groups: { app: { hosts: ips.map((_, k) => `${r.name[0]}${k + 1}`) } },
        hosts: Object.fromEntries(ips.map((ip, k) => [`${r.name[0]}${k + 1}`, { address: ip, vars: { ferry_server: `http://${r.lab.runnerIp(k + 1)}:${port}` } }])),
      };
      r.inventory = join(dir, r.name === 'south' ? 'site-b.yaml' : 'north.yaml');
      writeFileSync(r.inventory, stringify(doc));
    }
    // one ssh_config reaching both regions, for the status over both
    both = join(dir, 'both.ssh_config');
    writeFileSync(both, sshBlocks.join('\n'));
  });

  afterAll(async () => {
    for (const s of serves) {
      s.child.kill('SIGTERM');
      await s.exited;
    }
    await Promise.all([north.close(), south.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const deploy = (r: (typeof regions)[number], release: string) => ferry(['deploy', release, '--store', r.store, '-i', r.inventory, '-F', r.ssh, '--retries', '1', '--retry-delay', '50']);
  const status = (...extra: string[]) => ferry(['status', '-i', regions[0]!.inventory, '-i', regions[1]!.inventory, '-F', both, ...extra]);
  const hostFile = (r: (typeof regions)[number], i: number) => readFileSync(join(r.lab.dir, `host${i}`, 'root/etc/regionapp/app.conf'), 'utf8');

  it('deploys one release in both regions, each from its own serve, and status over both inventories shows it', async () => {
    const results = await Promise.all(regions.map((r) => deploy(r, 'multi@1')));
    for (const res of results) expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(hostFile(regions[0]!, 2)).toBe('region north\nhost n2\nversion 1.0.0\n');
    expect(hostFile(regions[1]!, 1)).toBe('region south\nhost s1\nversion 1.0.0\n');

    const text = await status('--expect', digests['1']!);
    expect(text.code, text.stderr + text.stdout).toBe(0);
    const short = digests['1']!.slice(0, 12);
    expect(text.stdout).toContain(`region north (${regions[0]!.inventory}): 2 hosts, bundle ${short}, complete\n`);
    expect(text.stdout).toContain(`region south (${regions[1]!.inventory}): 1 host, bundle ${short}, complete\n`);
    expect(text.stdout).toMatch(/^s1\s+app\s+multi 1\s+1\.0\.0\s+[0-9a-f]{12}\s+done\s+done\s+done\s+yes$/m);
    expect(text.stdout).toContain(`1 distinct bundle digest across 2 regions, 3 hosts (${short})\n`);

    // north's store holds the release too: it says which services each host of both regions must have
    const json = await status('--json', '--expect', digests['1']!, '--store', regions[0]!.store);
    expect(json.code).toBe(0);
    const report = StatusReportSchema.parse(JSON.parse(json.stdout));
    expect(report.regions.map((r) => [r.region, r.hosts, r.complete, r.digests])).toEqual([
      ['north', 2, true, [digests['1']]],
      ['south', 1, true, [digests['1']]],
    ]);
    expect(report.rows.map((r) => `${r.region} ${r.host} ${r.service} ${r.complete}`)).toEqual(['north n1 app true', 'north n2 app true', 'south s1 app true']);
    expect(report.expect).toEqual({ digest: digests['1'], ok: true, off: [], services: 'checked against multi 1' });
  });

  it('keeps deploying and reporting in one region while the other is cut off', async () => {
    // cut south: the host's link goes down inside its namespace, and the runner's route to it becomes
    // "unreachable" (not removed: without a route of its own, the address would follow the machine's
    // default route out of the lab). Neither ssh nor the host's fetches get through; nothing leaves.
    const ns = `${south.name}-1`;
    expect((await run('ip', ['route', 'add', 'unreachable', `${south.hostIp(1)}/32`])).code).toBe(0);
    expect((await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'down'])).code).toBe(0);
    try {
      const [n, s] = await Promise.all(regions.map((r) => deploy(r, 'multi@2')));
      expect(n.code, n.stderr + n.stdout).toBe(0);
      expect(hostFile(regions[0]!, 1)).toBe('region north\nhost n1\nversion 2.0.0\n');
      expect(s.code).toBe(72);
      expect(s.stderr).toContain('1 host failed (s1)');

      const cut = await status('--json', '--expect', digests['2']!);
      expect(cut.code).toBe(72);
      const report: StatusReport = StatusReportSchema.parse(JSON.parse(cut.stdout));
      expect(report.regions.map((r) => [r.region, r.complete, r.unreachable, r.digests])).toEqual([
        ['north', true, 0, [digests['2']]],
        ['south', false, 1, []],
      ]);
      expect(report.unreachable.map((u) => `${u.region} ${u.host}`)).toEqual(['south s1']);
      expect(report.expect!.off).toEqual(['south: s1 is unreachable']);
      expect(cut.stderr).toContain(`not every host runs bundle ${digests['2']}: south: s1 is unreachable`);
    } finally {
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['route', 'del', 'unreachable', `${south.hostIp(1)}/32`]);
    }
    // back on the network, south catches up from its own serve; nothing else had to be told
    const again = await deploy(regions[1]!, 'multi@2');
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(hostFile(regions[1]!, 1)).toBe('region south\nhost s1\nversion 2.0.0\n');
    expect((await status('--expect', digests['2']!)).code).toBe(0);
  });
});
