import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployEventLine, type DeployEvent } from '../../src/deploy/deployEvents.js';
import { ferry } from '../helpers/cli.js';
import { repo } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { makeWheel } from './wheelFixture.js';

/**
 * What an operator reads off deploy, plan and rollback, on folder hosts (the local transport, --allow-local;
 * artifacts pushed): a --force that a --stages leaves nothing to force, a host the release gives no service,
 * an inventory number ferry cannot hold exactly.
 */
const HOSTS = ['w1', 'w2', 'm1'];

function site(prefix: string, extraVars: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), `ferry-optruth-${prefix}-`));
  const store = join(dir, 'store');
  const inventory = join(dir, 'inventory.yaml');
  const root = (h: string) => join(dir, 'hosts', h);
  for (const h of HOSTS) mkdirSync(root(h), { recursive: true });
  // extraVars: w1's, as YAML text (stringify would write the number JavaScript holds, not the digits given)
  const raw = (h: string) => (h === 'w1' ? Object.fromEntries(Object.keys(extraVars).map((k) => [k, `RAW_${k}_RAW`])) : {});
  const hosts = Object.fromEntries(HOSTS.map((h) => [h, { transport: 'local', vars: { root: root(h), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '', ...raw(h) } }]));
  // w1 and w2 run web; m1 is the monitoring team's host, which this release gives nothing
  let text = stringify({ groups: { web: { hosts: ['w1', 'w2'] }, mon: { hosts: ['m1'] } }, hosts });
  for (const [k, v] of Object.entries(extraVars)) text = text.replace(`RAW_${k}_RAW`, v);
  writeFileSync(inventory, text);
  const common = ['-i', inventory, '--allow-local', '--store', store, '--push'];
  /** lines each host's configure appended: how many times configure ran its command there */
  const runs = (h: string) => (existsSync(join(root(h), 'configure.log')) ? readFileSync(join(root(h), 'configure.log'), 'utf8').split('\n').filter(Boolean).length : 0);
  const tree = () => HOSTS.flatMap((h) => readdirSync(root(h), { recursive: true }).map((f) => `${h}/${String(f)}`)).sort();
  return { dir, store, inventory, root, common, runs, tree };
}

function release(store: string, version: string, conf = 'web {{ ferry_version }}\n') {
  return writeRelease(store, {
    name: 'ot',
    version,
    epoch: `2026-11-0${version[0]}T00:00:00Z`,
    services: {
      web: {
        version,
        groups: ['web'],
        files: { 'web.conf.j2': conf },
        configure: [{ template: { src: 'web.conf.j2', dest: '{{ root }}/etc/web.conf' } }, { command: { run: 'echo ran >> {{ root }}/configure.log' } }],
      },
    },
  });
}

beforeAll(() => {
  if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
});

describe('--force of a stage --stages leaves out', () => {
  const s = site('force');
  beforeAll(async () => {
    release(s.store, '1.0.0');
    release(s.store, '2.0.0');
    expect((await ferry(['deploy', 'ot@1.0.0', ...s.common])).code).toBe(0);
    expect((await ferry(['deploy', 'ot@2.0.0', ...s.common])).code).toBe(0);
  });
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  // the run skipped every stage the facts show done, as if --force were not given, and exited 0: the operator
  // who forced a stage believed it ran
  it.each([
    [['deploy', 'ot@2.0.0'], ['--force', 'stage', '--stages', 'configure'], 'ferry: --force stage forces nothing: --stages configure does not run it; force a stage --stages names, or add it to --stages'],
    [['deploy', 'ot@2.0.0'], ['--stages', 'configure', '--force', 'install,stage'], 'ferry: --force install,stage forces nothing: --stages configure does not run them; force a stage --stages names, or add them to --stages'],
    [['plan', 'ot@2.0.0'], ['--force', 'configure', '--stages', 'stage,install'], 'ferry: --force configure forces nothing: --stages stage,install does not run it; force a stage --stages names, or add it to --stages'],
    [['rollback', 'ot'], ['--force', 'install', '--stages', 'configure'], 'ferry: --force install forces nothing: --stages configure does not run it; force a stage --stages names, or add it to --stages'],
  ])('ferry %j %j: one line, exit 64, nothing run', async (command, flags, line) => {
    const before = s.tree();
    const r = await ferry([...command, ...s.common, ...flags]);
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    expect(s.tree()).toEqual(before);
  });

  it('a --force naming a stage --stages runs forces it: configure runs again on every host', async () => {
    const before = ['w1', 'w2'].map(s.runs);
    const r = await ferry(['deploy', 'ot@2.0.0', ...s.common, '--force', 'configure', '--stages', 'configure']);
    expect(r.code, r.stderr).toBe(0);
    expect(['w1', 'w2'].map(s.runs)).toEqual(before.map((n) => n + 1));
    const all = await ferry(['deploy', 'ot@2.0.0', ...s.common, '--force', 'all', '--stages', 'configure']);
    expect(all.code, all.stderr).toBe(0);
    expect(['w1', 'w2'].map(s.runs)).toEqual(before.map((n) => n + 2));
  });
});

describe('a host the release (or --services) gives no service', () => {
  const s = site('noservice');
  beforeAll(() => release(s.store, '1.0.0'));
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  it('is not counted ok: the summary and run-end count the hosts deployed to, and name the others apart', async () => {
    const r = await ferry(['deploy', 'ot@1.0.0', ...s.common]);
    expect(r.code, r.stderr).toBe(0);
    // m1 got nothing: "3 of 3 hosts ok" claimed a deploy there
    expect(r.stdout).toMatch(/^ot 1\.0\.0 \(\w{12}\): 2 of 2 hosts ok, 1 more given no service, \d+\.\d s$/m);
    expect(r.stdout).toMatch(/^m1\s+\(no service\)\s+-\s+-\s+-\s+\d+$/m);
    expect(s.runs('m1')).toBe(0);

    const json = await ferry(['deploy', 'ot@1.0.0', ...s.common, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const ev = json.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => DeployEventLine.parse(JSON.parse(l)) as DeployEvent);
    const end = ev.at(-1) as Extract<DeployEvent, { type: 'run-end' }>;
    expect(end.hosts).toEqual({ total: 2, ok: 2, failed: 0, notReached: 0, noService: 1 });
    // one "ok" host event per host run-end counts ok: none for m1
    expect(ev.flatMap((e) => (e.type === 'host' ? [`${e.host} ${e.status}`] : [])).sort()).toEqual(['w1 ok', 'w2 ok']);

    // plan lists the hosts deployed to only, as deploy now counts them; status shows m1 with nothing deployed
    const plan = await ferry(['plan', 'ot@1.0.0', ...s.common.filter((a) => a !== '--push')]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^0 of 6 stages would run /m);
    expect(plan.stdout).not.toMatch(/^m1 /m);
    const status = await ferry(['status', '-i', s.inventory, '--allow-local']);
    expect(status.stdout).toMatch(/^m1\s+-\s+nothing deployed/m);
  });

  it('with --limit: the hosts chosen that get a service are counted, the one held only is named apart', async () => {
    const r = await ferry(['deploy', 'ot@1.0.0', ...s.common, '--limit', 'w1,m1', '--force', 'configure']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ot 1\.0\.0 \(\w{12}\): 1 of 1 hosts ok, 1 more given no service, /m);
  });
});

describe('a host --services leaves nothing', () => {
  const s = site('services');
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  it('is counted apart, not ok; without --services it is deployed and counted', async () => {
    const svc = (group: string) => ({ version: '1', groups: [group], files: { 'x.txt': `${group}\n` }, configure: [{ command: { run: `echo ${group} >> {{ root }}/configure.log` } }] });
    writeRelease(s.store, { name: 'two', version: '1', services: { web: svc('web'), mon: svc('mon') } });
    const web = await ferry(['deploy', 'two@1', ...s.common, '--services', 'web']);
    expect(web.code, web.stderr).toBe(0);
    expect(web.stdout).toMatch(/^two 1 \(\w{12}\): 2 of 2 hosts ok, 1 more given no service, /m);
    expect(s.runs('m1')).toBe(0);
    const all = await ferry(['deploy', 'two@1', ...s.common]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^two 1 \(\w{12}\): 3 of 3 hosts ok, \d+\.\d s$/m);
    expect(s.runs('m1')).toBe(1);
  });
});

describe('an inventory integer beyond 2^53', () => {
  it('is refused with one line naming its place (exit 65), before any host is touched; quoted, it renders exactly', async () => {
    const s = site('bigint', { account_id: '12345678901234567890' });
    try {
      release(s.store, '1.0.0', 'account {{ account_id | default("-") }}\n');
      expect(readFileSync(s.inventory, 'utf8')).toContain('      account_id: 12345678901234567890\n');
      const before = s.tree();
      for (const command of [['deploy', 'ot@1.0.0'], ['plan', 'ot@1.0.0'], ['rollback', 'ot', '--to', '1.0.0']]) {
        const r = await ferry([...command, ...s.common]);
        // rendered as 12345678901234567000 into the host's file, and exit 0
        expect(r.stderr, command.join(' ')).toBe(`ferry: ${s.inventory}: hosts.w1.vars.account_id: the integer 12345678901234567890 is outside ±9007199254740991 (2^53 - 1): ferry's numbers do not hold it exactly, and templates would render 12345678901234567000; quote it to keep it as text\n`);
        expect(r.code).toBe(65);
        expect(r.stdout).toBe('');
      }
      expect(s.tree()).toEqual(before);

      writeFileSync(s.inventory, readFileSync(s.inventory, 'utf8').replace('account_id: 12345678901234567890', 'account_id: "12345678901234567890"'));
      const ok = await ferry(['deploy', 'ot@1.0.0', ...s.common]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(readFileSync(join(s.root('w1'), 'etc/web.conf'), 'utf8')).toBe('account 12345678901234567890\n');
    } finally {
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  it('in a list or a group, named by its place and digits; 2^53 - 1 and floats (1e21 too) are numbers as before', async () => {
    const { parseInventory } = await import('../../src/deploy/loadInventory.js');
    expect(() => parseInventory('groups: { g: { hosts: [a], vars: { ids: [1, -9007199254740993] } } }\nhosts: { a: }', 'inv.yaml')).toThrow(/^inv\.yaml: groups\.g\.vars\.ids\[1\]: the integer -9007199254740993 is outside ±9007199254740991 /);
    // a port: "hosts.a: Invalid input" would not say what is wrong
    expect(() => parseInventory('hosts: { a: { port: 12345678901234567890 } }', 'inv.yaml')).toThrow(/^inv\.yaml: hosts\.a\.port: the integer 12345678901234567890 is outside ±/);
    expect(() => parseInventory('vars: { serial: 0x1000000000000000 }\nhosts: { a: }', 'inv.yaml')).toThrow(/^inv\.yaml: vars\.serial: the integer 1152921504606846976 is outside ±/);
    expect(parseInventory('vars: { max: 9007199254740991, min: -9007199254740991, ratio: 0.125, huge: 1e21, hex: 0x10 }\nhosts: { a: }', 'inv.yaml').hosts[0]!.vars).toEqual({ max: 9007199254740991, min: -9007199254740991, ratio: 0.125, huge: 1e21, hex: 16 });
  });
});

describe('a staged file removed from the host after a deploy', () => {
  const s = site('unstaged');
  beforeAll(() => release(s.store, '1.0.0'));
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  it('a configure that needs it says which file and what to run (--force stage), and that command puts it back', async () => {
    const spec = {
      version: '1.0.0',
      groups: ['web'],
      files: { 'note.txt': 'signed note\n' },
      configure: [{ file: { src: 'note.txt', dest: '{{ root }}/note.txt' } }],
    };
    writeRelease(s.store, { name: 'st', version: '1', services: { web: spec } });
    expect((await ferry(['deploy', 'st@1', ...s.common])).code).toBe(0);
    // the staged bundle goes (a disk cleaned by hand, a restore), and the live file is changed
    const bundles = join(s.root('w1'), 'var/lib/ferry/bundles');
    for (const d of readdirSync(bundles)) rmSync(join(bundles, d), { recursive: true, force: true });
    writeFileSync(join(s.root('w1'), 'note.txt'), 'edited\n');

    const forced = await ferry(['deploy', 'st@1', ...s.common, '--limit', 'w1', '--force', 'configure']);
    expect(forced.code).toBe(72);
    // was: `configure file …: exit status 1: cat: …/note.txt: No such file or directory`, and the advice "run the
    // same command again" skipped the stage stage (its fact says done) and failed the same way every time
    expect(forced.stdout).toMatch(/^w1 web configure: failed: host w1, service web, configure file \S+\/note\.txt: exit status 8: staged file \S+\/bundles\/[0-9a-f]{64}\/files\/web\/note\.txt: sha256 missing, the bundle says [0-9a-f]{64} \(changed on this host since it was staged; run again with --force stage\)$/m);
    expect(readFileSync(join(s.root('w1'), 'note.txt'), 'utf8')).toBe('edited\n');

    const again = await ferry(['deploy', 'st@1', ...s.common, '--limit', 'w1', '--force', 'stage']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(readFileSync(join(s.root('w1'), 'note.txt'), 'utf8')).toBe('signed note\n');
  });

  it('a git step checks the staged git bundle first, as apt and rootfs check theirs', async () => {
    const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@ferry.invalid', ...args], { cwd, encoding: 'utf8' }).trim();
    const repo = join(s.dir, 'repo');
    const bundle = join(s.dir, 'app.bundle');
    mkdirSync(repo);
    writeFileSync(join(repo, 'README'), 'one\n');
    for (const args of [['init', '-q', '-b', 'ferry'], ['add', '.'], ['commit', '-qm', 'one'], ['bundle', 'create', bundle, 'ferry']]) git(repo, ...args);
    const commit = git(repo, 'rev-parse', 'HEAD');
    writeRelease(s.store, {
      name: 'gt',
      version: '1',
      services: { web: { version: '1', groups: ['web'], install: [{ git: { name: 'app', dest: '{{ root }}/srv/app' } }] } },
      extra: [{ path: 'git/app.bundle', content: readFileSync(bundle), kind: 'git', services: ['web'] }],
      artifacts: { git: { app: { path: 'git/app.bundle', commit, shallow: [] } } },
    });
    // w1's web is st's (the case before): replaced
    expect((await ferry(['deploy', 'gt@1', ...s.common, '--limit', 'w1', '--take-over', '*'])).code).toBe(0);
    const root = s.root('w1');
    expect(readFileSync(join(root, 'srv/app/README'), 'utf8')).toBe('one\n');
    // the checkout install prepared goes, and so does the staged git bundle
    rmSync(join(root, 'srv/app.d'), { recursive: true, force: true });
    const bundles = join(root, 'var/lib/ferry/bundles');
    for (const d of readdirSync(bundles)) rmSync(join(bundles, d, 'git'), { recursive: true, force: true });
    const forced = await ferry(['deploy', 'gt@1', ...s.common, '--limit', 'w1', '--force', 'install']);
    expect(forced.code, forced.stdout).toBe(72);
    // was git's own "could not open" (or whatever a bundle put there since says), with no word of --force stage
    expect(forced.stdout).toMatch(/^w1 web install: failed: host w1, service web, install git app: exit status 8: staged file \S+\/git\/app\.bundle: sha256 missing, the bundle says [0-9a-f]{64} \(changed on this host since it was staged; run again with --force stage\)$/m);
    const again = await ferry(['deploy', 'gt@1', ...s.common, '--limit', 'w1', '--force', 'stage']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(git(join(root, 'srv/app'), 'rev-parse', 'HEAD')).toBe(commit);
  });

  it('a venv step checks the staged wheels it installs from first, as the file and git steps check theirs', async () => {
    const whl = makeWheel(s.dir, '1.0', 'staged wheel');
    const bytes = readFileSync(whl);
    const sha = createHash('sha256').update(bytes).digest('hex');
    writeRelease(s.store, {
      name: 'vt',
      version: '1',
      services: { web: { version: '1', groups: ['web'], install: [{ venv: { path: '{{ root }}/opt/venvs/app', python: '/usr/bin/python3' } }] } },
      extra: [{ path: `python/files/${basename(whl)}`, content: bytes, kind: 'python', services: ['web'] }],
      artifacts: { python: { services: { web: { requirements: `ferryhello==1.0 \\\n    --hash=sha256:${sha}\n` } } } },
    });
    expect((await ferry(['deploy', 'vt@1', ...s.common, '--limit', 'w1', '--take-over', '*'])).code).toBe(0);
    const root = s.root('w1');
    expect(readdirSync(join(root, 'opt/venvs/app.d'))).toHaveLength(1);
    // the venv install built goes, and so does the staged wheel
    rmSync(join(root, 'opt/venvs/app.d'), { recursive: true, force: true });
    const bundles = join(root, 'var/lib/ferry/bundles');
    for (const d of readdirSync(bundles)) rmSync(join(bundles, d, 'python'), { recursive: true, force: true });
    const forced = await ferry(['deploy', 'vt@1', ...s.common, '--limit', 'w1', '--force', 'install']);
    expect(forced.code, forced.stdout).toBe(72);
    // was pip's own "Looking in links: … / ERROR: Could not find a version that satisfies the requirement", with no word of --force stage
    expect(forced.stdout).toMatch(/^w1 web install: failed: host w1, service web, install venv \S+\/opt\/venvs\/app: exit status 8: staged file \S+\/python\/files\/ferryhello-1\.0-py3-none-any\.whl: sha256 missing, the bundle says [0-9a-f]{64} \(changed on this host since it was staged; run again with --force stage\)$/m);
    const again = await ferry(['deploy', 'vt@1', ...s.common, '--limit', 'w1', '--force', 'stage']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(execFileSync(join(root, 'opt/venvs/app/bin/python'), ['-c', 'import ferryhello; print(ferryhello.GREETING)'], { encoding: 'utf8' })).toBe('staged wheel\n');
  });
});

describe('a template file larger than a template may be', () => {
  it('is refused with one line (exit 65) by plan and deploy before any host is touched, not read whole for every host', async () => {
    const s = site('bigtemplate');
    try {
      // one byte over the rendered-output limit: a template's text is at least its output's size
      const big = 'x'.repeat(32 * 1024 * 1024) + '\n';
      writeRelease(s.store, { name: 'bt', version: '1', services: { web: { version: '1', groups: ['web'], files: { 'big.j2': big }, configure: [{ template: { src: 'big.j2', dest: '{{ root }}/etc/big.conf' } }] } } });
      const before = s.tree();
      for (const command of [['plan', 'bt@1'], ['deploy', 'bt@1']]) {
        const r = await ferry([...command, ...s.common]);
        // was: plan 0 ("configure run"), and deploy read and rendered 32 MiB per host to fail each with "the output is larger than 32 MiB"
        expect(r.stderr, command.join(' ')).toMatch(/^ferry: template files\/web\/big\.j2: 33554433 bytes, more than the 32 MiB a template may be \(what its output may be\); a configuration template is far smaller\n$/);
        expect(r.code, command.join(' ')).toBe(65);
        expect(r.stdout).toBe('');
      }
      expect(s.tree()).toEqual(before);
    } finally {
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
});

describe('an inventory file that is not there', () => {
  it('is wrong usage (64, as the README says of missing files), one line, for every command that reads one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-optruth-missing-'));
    try {
      const missing = join(dir, 'nosuch.yaml');
      release(join(dir, 'store'), '1.0.0');
      for (const command of [['deploy', 'ot@1.0.0'], ['plan', 'ot@1.0.0'], ['rollback', 'ot'], ['status'], ['gc', '--keep', '1']]) {
        const r = await ferry([...command, '-i', missing, '--store', join(dir, 'store')]);
        // was 65, the code of an inventory that was read and does not match its schema
        expect(r.stderr, command.join(' ')).toBe(`ferry: cannot read inventory ${missing}: ENOENT\n`);
        expect(r.code, command.join(' ')).toBe(64);
        expect(r.stdout).toBe('');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
