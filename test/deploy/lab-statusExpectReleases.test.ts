import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { StatusReportSchema } from '../../src/deploy/statusReport.js';
import { resetHost, runFerry, webService } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { useLab } from './fixtures.js';

/**
 * `ferry status --expect` over a fleet that takes two releases (ferry_releases allows both names): site
 * (service web, group web: s1, s2) and mon (service agent, group mon: s2, s3). An operator checks one
 * release over the whole inventory; a host the release gives nothing (s3), and the services of the other
 * release (agent on s2), are not that release's to answer for. They failed the check (exit 72: "s3 has
 * no facts", "s2/agent runs <mon's digest>"), so --expect could not pass on such a fleet at all.
 */
describe('status --expect on a fleet of two releases (sshd hosts)', () => {
  const ctx = useLab('status-expect-releases', ['s1', 's2', 's3']);
  const inv = () => join(ctx.dir, 'inventory.yaml');
  const agent = { version: '1.0.0', groups: ['mon'], files: { 'agent.conf': 'agent\n' }, configure: [{ file: { src: 'agent.conf', dest: '{{ root }}/etc/agent.conf' } }] };
  const status = async (digest: string, store: string) => {
    const r = await runFerry('status', '-i', inv(), '-F', ctx.lab.sshConfig, '--expect', digest.slice(0, 12), '--store', store, '--json');
    return { code: r.code, stderr: r.stderr, expect: StatusReportSchema.parse(JSON.parse(r.stdout)).expect! };
  };

  it('counts only the hosts and services the expected release has; a real miss still fails', async () => {
    const { lab, store, server } = ctx;
    for (const h of lab.hosts) resetHost(h);
    const site1 = writeRelease(store, { name: 'site', version: '1', epoch: '2026-11-01T00:00:00Z', services: { web: webService('1.0.0') } });
    const site2 = writeRelease(store, { name: 'site', version: '2', epoch: '2026-11-02T00:00:00Z', services: { web: webService('2.0.0') } });
    const mon = writeRelease(store, { name: 'mon', version: '1', services: { agent } });
    const host = (name: string) => {
      const h = lab.hosts.find((x) => x.name === name)!;
      return { address: h.address, port: h.port, vars: { root: h.root, ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '{{ root }}/etc/ansible/facts.d' } };
    };
    writeFileSync(inv(), stringify({ vars: { ferry_server: server.url, ferry_releases: ['site', 'mon'] }, groups: { web: { hosts: ['s1', 's2'], vars: { port: 8080 } }, mon: { hosts: ['s2', 's3'] } }, hosts: { s1: host('s1'), s2: host('s2'), s3: host('s3') } }));
    const deploy = (ref: string, ...more: string[]) => runFerry('deploy', ref, '--store', store, '-i', inv(), '-F', lab.sshConfig, ...more);
    const empty = join(ctx.dir, 'no-store');

    const d1 = await deploy('site@1');
    expect(d1.code, d1.stderr).toBe(0);
    // s3 has no facts yet, and site gives it nothing
    const onlySite = await status(site1, store);
    expect(onlySite.expect.off, onlySite.stderr).toEqual([]);
    expect(onlySite.code).toBe(0);
    // without the release, nothing tells what s3 should run: it still counts, and the output says services were not checked
    const blind = await status(site1, empty);
    expect(blind.code).toBe(72);
    expect(blind.expect.off).toEqual(['s3 has no facts']);

    const d2 = await deploy('mon@1');
    expect(d2.code, d2.stderr).toBe(0);
    for (const [digest, where] of [[site1, store], [site1, empty], [mon, store], [mon, empty]] as const) {
      const r = await status(digest, where);
      expect(r.expect.off, `${digest.slice(0, 12)} ${where}`).toEqual([]);
      expect(r.code).toBe(0);
    }

    // a fact that cannot be read, of a service site does not give the host (mon's agent on s3): with the
    // release in the store it is not site's to count; without it, nothing tells whose it is
    const agentFact = join(lab.hosts.find((h) => h.name === 's3')!.root, 'var/lib/ferry/facts/agent.json');
    const kept = readFileSync(agentFact);
    writeFileSync(agentFact, 'not json');
    const unreadable = await status(site1, store);
    expect(unreadable.expect.off).toEqual([]);
    expect(unreadable.code).toBe(0);
    const unreadableBlind = await status(site1, empty);
    expect(unreadableBlind.code).toBe(72);
    expect(unreadableBlind.expect.off).toEqual([expect.stringMatching(/^s3\/agent runs nothing \(incomplete: /)]);
    writeFileSync(agentFact, kept);

    // site 2 reaches s1 only: s2's web still runs site 1 and counts; mon's agent on s2 and s3 does not
    const d3 = await deploy('site@2', '--limit', 's1');
    expect(d3.code, d3.stderr).toBe(0);
    for (const where of [store, empty]) {
      const r = await status(site2, where);
      expect(r.code).toBe(72);
      expect(r.expect.off).toEqual([`s2/web runs ${site1.slice(0, 12)}`]);
      expect(r.stderr).toMatch(new RegExp(`^ferry: not every host runs bundle ${site2.slice(0, 12)}: s2/web runs ${site1.slice(0, 12)}$`, 'm'));
    }
  });
});
