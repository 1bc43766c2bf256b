import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import type { StatusRow } from '../../src/deploy/collectStatus.js';
import { findPreviousRelease, hostsRun } from '../../src/deploy/findPreviousRelease.js';
import { StatusReportSchema } from '../../src/deploy/statusReport.js';
import type { FixtureService } from './storeFixture.js';
import { writeRelease } from './storeFixture.js';
import { folderSite } from './folderSite.js';

/**
 * rollback and the options deploy, rollback and plan share, on hosts that are folders of the runner
 * (the local transport, --allow-local; artifacts pushed, no server).
 */
const HOSTS = ['h1', 'h2', 'h3'];

/** A service whose configure writes its version into ROOT/etc/NAME.conf: which release a host got is read from there. */
function service(name: string, version: string): FixtureService {
  return {
    version,
    groups: ['web'],
    files: { [`${name}.conf.j2`]: `${name} {{ ferry_version }} release {{ ferry_release }}\n` },
    configure: [{ template: { src: `${name}.conf.j2`, dest: `{{ root }}/etc/${name}.conf` } }],
  };
}

function site(prefix: string) {
  const { dir, store, inventory, root } = folderSite(`rollback-${prefix}`, HOSTS);
  const common = ['-i', inventory, '--allow-local', '--store', store, '--push'];
  /** what every host's configure wrote for SERVICE, or "-" where it did not */
  const conf = (svc: string) => HOSTS.map((h) => (existsSync(join(root(h), 'etc', `${svc}.conf`)) ? readFileSync(join(root(h), 'etc', `${svc}.conf`), 'utf8').trim() : '-'));
  /** every file under the hosts' folders: nothing may change there when a command is refused */
  const tree = () => HOSTS.flatMap((h) => (existsSync(root(h)) ? readdirSync(root(h), { recursive: true }).map((f) => `${h}/${String(f)}`) : [])).sort();
  return { dir, store, inventory, root, common, conf, tree };
}

describe('--force and --stages are checked as options: one line, exit 64, before any work', () => {
  const s = site('options');
  beforeAll(async () => {
    writeRelease(s.store, { name: 'rp', version: '1.0.0', epoch: '2026-11-01T00:00:00Z', services: { web: service('web', '1.0.0') } });
    writeRelease(s.store, { name: 'rp', version: '2.0.0', epoch: '2026-11-02T00:00:00Z', services: { web: service('web', '2.0.0') } });
    expect((await ferry(['deploy', 'rp@1.0.0', ...s.common])).code).toBe(0);
    expect((await ferry(['deploy', 'rp@2.0.0', ...s.common])).code).toBe(0);
  });
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  it.each([
    [['plan', 'rp@2.0.0'], '--force', 'configur', 'ferry: --force configur: not a stage; use stage, install, configure or all'],
    [['deploy', 'rp@2.0.0'], '--force', 'configur', 'ferry: --force configur: not a stage; use stage, install, configure or all'],
    [['rollback', 'rp'], '--force', 'configur', 'ferry: --force configur: not a stage; use stage, install, configure or all'],
    [['plan', 'rp@2.0.0'], '--stages', 'stage,configur', 'ferry: --stages configur: not a stage; use stage, install, configure'],
    [['deploy', 'rp@2.0.0'], '--stages', 'configur', 'ferry: --stages configur: not a stage; use stage, install, configure'],
    [['rollback', 'rp'], '--stages', 'configur', 'ferry: --stages configur: not a stage; use stage, install, configure'],
    [['rollback', 'rp'], '--stages', 'all', 'ferry: --stages all: not a stage; use stage, install, configure'],
    [['deploy', 'rp@2.0.0'], '--force', ',', 'ferry: --force needs a stage: stage, install, configure or all'],
  ])('ferry %j %s %s', async (command, flag, value, line) => {
    const before = s.tree();
    const r = await ferry([...command, ...s.common, flag, value]);
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    expect(s.tree()).toEqual(before);
    expect(s.conf('web')).toEqual(HOSTS.map(() => 'web 2.0.0 release 2.0.0'));
  });

  it('takes every stage name, comma-separated or repeated, and all for --force', async () => {
    const plan = await ferry(['plan', 'rp@2.0.0', ...s.common, '--force', 'stage,install', '--force', 'configure', '--stages', 'configure', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).rows.map((r: { stage: string; run: boolean; reason: string }) => `${r.stage} ${r.run} ${r.reason}`)).toEqual(HOSTS.map(() => 'configure true forced (--force configure)'));
    const all = await ferry(['deploy', 'rp@2.0.0', ...s.common, '--force', 'all', '--stages', 'stage', '--stages', 'install']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/h1\s+web\s+ran \(\d+ changed\)\s+ran \(\d+ changed\)\s+-/);
  });

  it('rollback takes deploy --check (what the rollback would change, changing nothing) and --repair', async () => {
    const before = s.tree();
    const check = await ferry(['rollback', 'rp', ...s.common, '--check']);
    expect(check.stderr).toContain('checking the hosts against rp 1.0.0 (');
    expect(check.stderr).toContain('ferry: drift: 3 steps differ on h1, h2, h3; the rollback to rp 1.0.0 (the same command without --check) changes them\n');
    expect(check.code).toBe(2);
    expect(check.stdout).toContain('etc/web.conf');
    expect(s.tree()).toEqual(before);
    expect(s.conf('web')).toEqual(HOSTS.map(() => 'web 2.0.0 release 2.0.0'));

    const both = await ferry(['rollback', 'rp', ...s.common, '--check', '--repair']);
    expect(both.stderr).toBe('ferry: --check changes nothing and --repair changes what differs: give one of them\n');
    expect(both.code).toBe(64);
    const forced = await ferry(['rollback', 'rp', ...s.common, '--check', '--force', 'configure']);
    expect(forced.code).toBe(64);

    const back = await ferry(['rollback', 'rp', ...s.common]);
    expect(back.code, back.stderr).toBe(0);
    expect(s.conf('web')).toEqual(HOSTS.map(() => 'web 1.0.0 release 1.0.0'));
    // changed by hand: a rollback with --repair puts it back where the facts say done, as deploy --repair does
    writeFileSync(join(s.root('h2'), 'etc', 'web.conf'), 'edited\n');
    const plain = await ferry(['rollback', 'rp', ...s.common, '--to', '1.0.0']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(s.conf('web')[1]).toBe('edited');
    const repaired = await ferry(['rollback', 'rp', ...s.common, '--to', '1.0.0', '--repair']);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(s.conf('web')).toEqual(HOSTS.map(() => 'web 1.0.0 release 1.0.0'));
  });
});

describe('rollback --to: a version of the release, or a unique digest prefix of 8+ hex digits, checked before any host', () => {
  const s = site('to');
  const digest: Record<string, string> = {};
  const rel = (version: string, day: number, name = 'rp', web = version) => (digest[`${name} ${version}`] = writeRelease(s.store, { name, version, epoch: `2026-11-${String(day).padStart(2, '0')}T00:00:00Z`, services: { web: service('web', web) } }));
  beforeAll(async () => {
    for (const [i, v] of ['1.0.0', '2.0.0', '3.0.0', '4.0.0'].entries()) rel(v, i + 1);
    rel('1.0', 1, 'other');
    // two releases whose digests share their first 8 hex digits (found by trying versions): a prefix that
    // long is a digest for deploy, and names no release when two have it
    rel('9.0.9026', 9, 'rp', '1.0.0');
    rel('9.0.22077', 9, 'rp', '1.0.0');
    expect((await ferry(['deploy', 'rp@4.0.0', ...s.common])).code).toBe(0);
  });
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  it('refuses a version the release does not have, a short, ambiguous or foreign prefix: one line, exit 64, no host touched', async () => {
    expect(digest['rp 9.0.9026']!.slice(0, 8)).toBe(digest['rp 9.0.22077']!.slice(0, 8));
    expect(digest['rp 9.0.9026']!.slice(0, 9)).not.toBe(digest['rp 9.0.22077']!.slice(0, 9));
    const held = 'give a version (the store holds 9.0.22077, 9.0.9026, 4.0.0, 3.0.0, 2.0.0, 1.0.0) or 8 or more hex digits of a digest';
    const cases: Array<[string, string]> = [
      ['2', `ferry: --to 2: rp has no version 2; ${held}`],
      ['2.0', `ferry: --to 2.0: rp has no version 2.0; ${held}`],
      [digest['rp 1.0.0']!.slice(0, 1), `ferry: --to ${digest['rp 1.0.0']!.slice(0, 1)}: rp has no version ${digest['rp 1.0.0']!.slice(0, 1)}; ${held}`],
      [digest['rp 2.0.0']!.slice(0, 7), `ferry: --to ${digest['rp 2.0.0']!.slice(0, 7)}: rp has no version ${digest['rp 2.0.0']!.slice(0, 7)}; ${held}`],
      ['0123abcd', `ferry: --to 0123abcd: rp has no version 0123abcd and no release digest starts with it; ${held}`],
      [digest['rp 9.0.9026']!.slice(0, 8), `ferry: --to ${digest['rp 9.0.9026']!.slice(0, 8)}: 2 release digests start with it (rp 9.0.9026, rp 9.0.22077); give more digits`],
      [digest['other 1.0']!.slice(0, 12), `ferry: --to ${digest['other 1.0']!.slice(0, 12)}: that digest is other 1.0, not a release of rp`],
    ];
    for (const [to, line] of cases) {
      const before = s.tree();
      const r = await ferry(['rollback', 'rp', ...s.common, '--to', to]);
      expect(r.stderr, `--to ${to}`).toBe(`${line}\n`);
      expect(r.code, `--to ${to}`).toBe(64);
      expect(s.tree()).toEqual(before);
    }
    expect(s.conf('web')).toEqual(HOSTS.map(() => 'web 4.0.0 release 4.0.0'));
    const unknown = await ferry(['rollback', 'nosuch', ...s.common, '--to', '1.0.0']);
    expect(unknown.stderr).toBe(`ferry: the store ${s.store} holds no release named nosuch\n`);
    expect(unknown.code).toBe(71);
  });

  it('goes to the version named, or to the one release of the name whose digest starts with 8+ hex digits', async () => {
    const byVersion = await ferry(['rollback', 'rp', ...s.common, '--to', '3.0.0']);
    expect(byVersion.stderr).toContain(`rolling back rp to 3.0.0 (${digest['rp 3.0.0']!.slice(0, 12)})\n`);
    expect(byVersion.code).toBe(0);
    expect(s.conf('web')).toEqual(HOSTS.map(() => 'web 3.0.0 release 3.0.0'));
    const byDigest = await ferry(['rollback', 'rp', ...s.common, '--to', digest['rp 2.0.0']!.slice(0, 8)]);
    expect(byDigest.stderr).toContain(`rolling back rp to 2.0.0 (${digest['rp 2.0.0']!.slice(0, 12)})\n`);
    expect(byDigest.code).toBe(0);
    expect(s.conf('web')).toEqual(HOSTS.map(() => 'web 2.0.0 release 2.0.0'));
    const nine = await ferry(['rollback', 'rp', ...s.common, '--to', digest['rp 9.0.22077']!.slice(0, 9), '--stages', 'stage']);
    expect(nine.stderr).toContain(`rolling back rp to 9.0.22077 (${digest['rp 9.0.22077']!.slice(0, 12)})\n`);
    expect(nine.code).toBe(0);
  });
});

describe('a release that drops a service: the fact it leaves is retired, and rollback goes back one release', () => {
  const s = site('dropped');
  const digest: Record<string, string> = {};
  const rel = (version: string, day: number, services: Record<string, FixtureService>) =>
    (digest[version] = writeRelease(s.store, { name: 'rp', version, epoch: `2026-11-0${day}T00:00:00Z`, services }));
  const facts = (h: string) => join(s.root(h), 'var/lib/ferry/facts');
  const status = async (...args: string[]) => {
    const r = await ferry(['status', '-i', s.inventory, '--allow-local', '--json', ...args]);
    return { code: r.code, stderr: r.stderr, report: StatusReportSchema.parse(JSON.parse(r.stdout)) };
  };
  beforeAll(async () => {
    rel('1.0.0', 1, { web: service('web', '1.0.0'), side: service('side', '1.0.0') });
    rel('2.0.0', 2, { web: service('web', '2.0.0'), side: service('side', '1.0.0') });
    rel('3.0.0', 3, { web: service('web', '3.0.0') });
    for (const v of ['1.0.0', '2.0.0']) expect((await ferry(['deploy', `rp@${v}`, ...s.common])).code).toBe(0);
  });
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  it('retires it once a host runs the release completely, shows it retired, and --expect passes', async () => {
    // stage and install only: the hosts still run 2.0.0, nothing is retired
    const prepared = await ferry(['deploy', 'rp@3.0.0', ...s.common, '--stages', 'stage,install']);
    expect(prepared.code, prepared.stderr).toBe(0);
    expect(prepared.stderr).not.toContain('retired');
    expect((await status()).report.rows.filter((r) => r.retired)).toEqual([]);

    const r = await ferry(['deploy', 'rp@3.0.0', ...s.common]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('side is not in rp 3.0.0: retired on h1, h2, h3 (what it installed stays there)\n');
    const fact = JSON.parse(readFileSync(join(facts('h2'), 'side.json'), 'utf8'));
    expect(fact.digest).toBe(digest['2.0.0']);
    expect(fact.retired).toMatchObject({ digest: digest['3.0.0'], release: { name: 'rp', version: '3.0.0' } });

    // with the store: rp 3.0.0 gives the hosts web only, so the retired side is not missing
    const { code, report } = await status('--expect', digest['3.0.0']!, '--store', s.store);
    expect(code).toBe(0);
    expect(report.expect).toEqual({ digest: digest['3.0.0'], ok: true, off: [], services: 'checked against rp 3.0.0' });
    expect(report.regions.map((g) => [g.digests, g.running, g.complete])).toEqual([[[digest['3.0.0']], [digest['3.0.0']], true]]);
    expect(report.digests).toEqual([digest['3.0.0']]);
    expect(report.rows.filter((x) => x.service === 'side').map((x) => [x.host, x.digest, x.retired?.release, x.retired?.digest])).toEqual(HOSTS.map((h) => [h, digest['2.0.0'], 'rp 3.0.0', digest['3.0.0']]));

    const text = await ferry(['status', '-i', s.inventory, '--allow-local']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`: 3 hosts, bundle ${digest['3.0.0']!.slice(0, 12)}, complete\n`);
    expect(text.stdout).toMatch(new RegExp(`h1 +side +rp 2\\.0\\.0 +1\\.0\\.0 +${digest['2.0.0']!.slice(0, 12)} +done +done +done +retired\\n`));
    expect(text.stdout).toContain(`retired: side on h1, h2, h3: rp 3.0.0 (${digest['3.0.0']!.slice(0, 12)}), which they run, does not have it; what it installed stays there\n`);
    expect(text.stdout).toContain(`1 distinct bundle digest across 3 hosts (${digest['3.0.0']!.slice(0, 12)})\n`);
    // what side installed is left alone
    expect(s.conf('side')).toEqual(HOSTS.map(() => 'side 1.0.0 release 1.0.0'));
  });

  it('rolls back to the release before the one the hosts run, which brings the retired service back', async () => {
    const back = await ferry(['rollback', 'rp', ...s.common, '--json']);
    expect(back.code, back.stderr).toBe(0);
    const events = back.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === 'info')?.msg).toBe(`rolling back rp to 2.0.0 (${digest['2.0.0']!.slice(0, 12)})`);
    // every stage of the retired service runs again (what it installed may have been removed since)
    const side = events.filter((e) => e.type === 'stage' && e.service === 'side' && e.status === 'ran');
    expect(side.filter((e) => e.host === 'h1').map((e) => e.stage)).toEqual(['stage', 'install', 'configure']);
    expect(side.filter((e) => e.host === 'h1').map((e) => e.reason)).toEqual([expect.stringMatching(/^retired \S+ \(not in rp 3\.0\.0\), deployed again$/), 'install not completed yet', 'configure not completed yet']);
    expect(s.conf('web')).toEqual(HOSTS.map(() => 'web 2.0.0 release 2.0.0'));
    expect(s.conf('side')).toEqual(HOSTS.map(() => 'side 1.0.0 release 2.0.0'));
    const { code, report } = await status('--expect', digest['2.0.0']!);
    expect(code).toBe(0);
    expect(report.rows.filter((r) => r.retired)).toEqual([]);
    expect(JSON.parse(readFileSync(join(facts('h1'), 'side.json'), 'utf8')).retired).toBeUndefined();
  });

  it('treats the fact of a dropped service that no deploy marked (an older ferry) as left over; deploying the release again retires it', async () => {
    expect((await ferry(['deploy', 'rp@3.0.0', ...s.common])).code).toBe(0);
    // what a ferry before retired facts left on the hosts
    for (const h of HOSTS) {
      const f = JSON.parse(readFileSync(join(facts(h), 'side.json'), 'utf8'));
      delete f.retired;
      writeFileSync(join(facts(h), 'side.json'), JSON.stringify(f));
    }
    const before = await status('--expect', digest['3.0.0']!);
    expect(before.code).toBe(72);
    expect(before.stderr).toContain(`h1/side runs ${digest['2.0.0']!.slice(0, 12)}`);
    const check = await ferry(['rollback', 'rp', ...s.common, '--check']);
    expect(check.stderr).toContain(`checking the hosts against rp 2.0.0 (${digest['2.0.0']!.slice(0, 12)}), the release a rollback goes to`);

    const again = await ferry(['deploy', 'rp@3.0.0', ...s.common]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('side is not in rp 3.0.0: retired on h1, h2, h3');
    expect((await status('--expect', digest['3.0.0']!)).code).toBe(0);
  });
});

describe('which release the hosts run, for rollback', () => {
  const host = (name: string, groups = ['all', 'web']) => ({ name, address: name, transport: 'ssh' as const, vars: {}, groups });
  const row = (h: string, service: string, digest: string, extra: Partial<StatusRow> = {}): StatusRow => ({ host: h, service, release: `rp ${digest}`, version: '1', digest, complete: true, ...extra });
  const given: Record<string, string[]> = { D1: ['web', 'side'], D2: ['web', 'side'], D3: ['web'], R: ['web', 'side2'] };
  const givenBy = (d: string) => given[d];

  it('counts each host once per digest, leaving out retired and left-over services', () => {
    const h = [host('h1'), host('h2')];
    // side's fact stayed at D2 when the hosts moved on to D3, which does not have it
    expect(hostsRun('rp', [row('h1', 'side', 'D2'), row('h1', 'web', 'D3'), row('h2', 'side', 'D2', { retired: { time: 't', release: 'rp 3', digest: 'D3' } }), row('h2', 'web', 'D3')], h, givenBy)).toEqual(['D3', 'D3']);
    // rolled back from R (web, side2) to D2: side2's fact is the one left over, at the newer release
    expect(hostsRun('rp', [row('h1', 'side', 'D2'), row('h1', 'side2', 'R'), row('h1', 'web', 'D2')], [h[0]!], givenBy)).toEqual(['D2']);
    // part-way through a rollout of D2 with --services web: both count
    expect(hostsRun('rp', [row('h1', 'side', 'D1'), row('h1', 'web', 'D2')], [h[0]!], givenBy)).toEqual(['D1', 'D2']);
    // another release name, a fact that could not be read, a digest the store does not hold
    expect(hostsRun('rp', [row('h1', 'web', 'X', { release: 'other 1' }), { host: 'h1', service: 'db', complete: false, problem: 'not JSON' }, row('h1', 'web', 'GONE')], [h[0]!], givenBy)).toEqual(['GONE']);
  });

  it('goes back from the newest release any host runs (a half-done rollout or a canary is undone, not the release before)', async () => {
    const store = mkdtempSync(join(tmpdir(), 'ferry-rollback-tie-'));
    try {
      const d = ['1', '2', '3'].map((v, i) => writeRelease(store, { name: 'rp', version: v, epoch: `2026-11-0${i + 1}T00:00:00Z`, services: { web: service('web', v) } }));
      expect((await findPreviousRelease(store, 'rp', [d[1]!, d[2]!])).version).toBe('2');
      expect((await findPreviousRelease(store, 'rp', [d[2]!, d[1]!])).version).toBe('2');
      // a canary: 3 on one host, 2 on the others; the rollback takes the canary back to 2 and leaves the
      // others as they are (the rule "before the release most hosts run" took all of them to 1)
      expect((await findPreviousRelease(store, 'rp', [d[1]!, d[1]!, d[2]!])).version).toBe('2');
      expect((await findPreviousRelease(store, 'rp', [d[2]!, d[1]!, d[1]!, d[1]!])).version).toBe('2');
      // a rollback from 3 to 2 that stopped after one host: running it again finishes it, at 2
      expect((await findPreviousRelease(store, 'rp', [d[1]!, d[2]!, d[2]!])).version).toBe('2');
      // a digest the store no longer holds cannot be ordered: the newest one it holds decides
      expect((await findPreviousRelease(store, 'rp', [d[2]!, 'f'.repeat(64)])).version).toBe('2');
      await expect(findPreviousRelease(store, 'rp', ['f'.repeat(64)])).rejects.toThrow(/no longer holds; name the release to go back to with --to/);
      await expect(findPreviousRelease(store, 'rp', [d[0]!, d[0]!])).rejects.toThrow(/is the oldest release in the store/);
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });
});
