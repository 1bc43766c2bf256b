import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import type { FixtureService } from './storeFixture.js';
import { writeRelease } from './storeFixture.js';

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
  const dir = mkdtempSync(join(tmpdir(), `ferry-rollback-${prefix}-`));
  const store = join(dir, 'store');
  const inventory = join(dir, 'inventory.yaml');
  const root = (h: string) => join(dir, 'hosts', h);
  for (const h of HOSTS) mkdirSync(root(h), { recursive: true });
  const hosts = Object.fromEntries(HOSTS.map((h) => [h, { transport: 'local', vars: { root: root(h), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } }]));
  writeFileSync(inventory, stringify({ groups: { web: { hosts: HOSTS } }, hosts }));
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
