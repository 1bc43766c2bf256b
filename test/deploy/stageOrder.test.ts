import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

/**
 * What deploy and plan decide per host, service and stage from the host's facts: a stage whose last
 * attempt failed runs again; a stage works from what the stages before it left for this bundle (its
 * staged files, the trees install prepared); the keys that say a stage is done hold the variables it
 * reads. On two local hosts (folders on the runner, --allow-local, --push).
 */
describe('deciding each stage from the facts', () => {
  let dir: string;
  let store: string;
  let inventory: string;
  const data = (h: string) => join(dir, h, 'var/lib/ferry');
  const fact = (h: string, svc: string) => readFileSync(join(data(h), 'facts', `${svc}.json`), 'utf8');
  const writeInventory = (roots: Record<string, string> = {}) =>
    writeFileSync(
      inventory,
      stringify({
        groups: { web: { hosts: ['h1', 'h2'] } },
        // the data folder does not follow root: moving root moves the trees, not the facts
        hosts: Object.fromEntries(['h1', 'h2'].map((h) => [h, { transport: 'local', vars: { root: roots[h] ?? join(dir, h), ferry_data_dir: data(h), ferry_ansible_facts_dir: '' } }])),
      }),
    );
  const f = (...args: string[]) => ferry([...args, '--allow-local', '-i', inventory, ...(args[0] === 'status' ? [] : ['--store', store])]);
  const deploy = (ref: string, ...args: string[]) => f('deploy', ref, '--push', ...args);
  const planRows = (out: string) => out.split('\n').filter((l) => /^h\d /.test(l)).map((l) => l.replace(/\s+/g, ' ').trim());

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-stage-order-'));
    store = join(dir, 'store');
    inventory = join(dir, 'inventory.yaml');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs install again where a variable its steps name changed (a rootfs dest), and the advice for a tree gone missing gets it back', async () => {
    for (const h of ['h1', 'h2']) rmSync(join(dir, h), { recursive: true, force: true });
    mkdirSync(join(dir, 'tree'), { recursive: true });
    writeFileSync(join(dir, 'tree', 'hello.txt'), 'hello\n');
    execFileSync('tar', ['-czf', join(dir, 'base.tar.gz'), '-C', join(dir, 'tree'), '.']);
    writeRelease(store, {
      name: 'trees',
      version: '1',
      services: {
        web: {
          version: '1.0.0',
          groups: ['web'],
          install: [{ rootfs: { name: 'base', dest: '{{ root }}/srv/base' } }],
          configure: [{ command: { run: 'test -e {{ root }}/srv/base/hello.txt' } }],
        },
      },
      extra: [{ path: 'rootfs/base.tar.gz', content: readFileSync(join(dir, 'base.tar.gz')), kind: 'rootfs', services: ['web'] }],
      artifacts: { rootfs: { base: { path: 'rootfs/base.tar.gz' } } },
    });
    writeInventory();
    const first = await deploy('trees@1');
    expect(first.code, first.stderr).toBe(0);

    // the operator moves h2 to another root: its tree must be prepared there before configure uses it
    const moved = join(dir, 'h2-moved');
    writeInventory({ h2: moved });
    const plan = await f('plan', 'trees@1');
    expect(plan.code, plan.stderr).toBe(0);
    expect(planRows(plan.stdout)).toEqual([
      expect.stringMatching(/^h1 web stage skip done /),
      expect.stringMatching(/^h1 web install skip done /),
      expect.stringMatching(/^h1 web configure skip done /),
      expect.stringMatching(/^h2 web stage skip done /),
      'h2 web install run inventory variables changed',
      'h2 web configure run inventory variables changed',
    ]);
    const again = await deploy('trees@1');
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(readFileSync(join(moved, 'srv/base/hello.txt'), 'utf8')).toBe('hello\n');
    expect(JSON.parse(fact('h2', 'web')).failure).toBeUndefined();

    // the prepared tree removed by hand: install is recorded done, so the message says what brings it back
    for (const t of readdirSync(join(moved, 'srv/base.d'))) rmSync(join(moved, 'srv/base.d', t), { recursive: true });
    rmSync(join(moved, 'srv/base'));
    const forced = await deploy('trees@1', '--limit', 'h2', '--force', 'configure');
    expect(forced.code).toBe(72);
    expect(forced.stdout).toMatch(/rootfs base: \S+\/srv\/base\.d\/[0-9a-f]{16} is not prepared on this host, though install is recorded done for this release \(removed or changed since\?\); prepare it again with ferry deploy --force install \(configure follows\)/);
    const advised = await deploy('trees@1', '--limit', 'h2', '--force', 'install');
    expect(advised.code, advised.stderr + advised.stdout).toBe(0);
    expect(readFileSync(join(moved, 'srv/base/hello.txt'), 'utf8')).toBe('hello\n');
  });

  it('refuses install and configure of a release whose earlier stages have not run on the host, with one line naming what to run, recording nothing', async () => {
    for (const h of ['h1', 'h2']) rmSync(join(dir, h), { recursive: true, force: true });
    writeInventory();
    const release = (v: string) =>
      writeRelease(store, {
        name: 'order',
        version: v,
        services: {
          web: { version: `${v}.0`, groups: ['web'], files: { 'payload.txt': `data ${v}\n` }, configure: [{ file: { src: 'payload.txt', dest: '{{ root }}/etc/payload.txt' } }] },
          side: { version: `${v}.0`, groups: ['web'], configure: [{ command: { run: `echo ${v} >> {{ root }}/side.log` } }] },
        },
      });
    const d1 = release('1');
    const d2 = release('2');
    const first = await deploy('order@1');
    expect(first.code, first.stderr).toBe(0);
    const facts = () => ['h1', 'h2'].flatMap((h) => ['web', 'side'].map((s) => fact(h, s)));
    const before = facts();
    const refusal = (h: string, svc: string, stage: string, missing: string, stages: string) =>
      `host ${h}, service ${svc}: ${stage} refused: ${missing} of order 2 (bundle ${d2.slice(0, 12)}) ${missing.includes(' and ') ? 'are' : 'is'} not done on this host; run ferry deploy with --stages ${stages} (or without --stages)`;

    const plan = await f('plan', 'order@2', '--stages', 'configure');
    expect(plan.code, plan.stderr).toBe(0);
    const reason = refusal('h1', 'web', 'configure', 'stage and install', 'stage,install,configure').replace(/^host h1, service web: /, '');
    expect(planRows(plan.stdout)).toEqual(['h1 side', 'h1 web', 'h2 side', 'h2 web'].map((hs) => `${hs} configure refuse ${reason}`));
    expect(plan.stdout).toContain('0 of 4 stages would run, 4 would be refused');

    for (const extra of [[], ['--force', 'configure']]) {
      const r = await deploy('order@2', '--stages', 'configure', ...extra);
      expect(r.code, r.stderr).toBe(72);
      for (const h of ['h1', 'h2']) for (const svc of ['web', 'side']) expect(r.stdout).toContain(`${h} ${svc} configure: failed: ${refusal(h, svc, 'configure', 'stage and install', 'stage,install,configure')}\n`);
      expect(r.stderr.trimEnd().split('\n').at(-1)).toBe('ferry: 2 hosts failed (h1, h2); run it with --stages stage,install,configure (or without --stages): completed stages are skipped');
      expect(r.stdout + r.stderr).not.toMatch(/No such file|cat:/);
    }
    const install = await deploy('order@2', '--stages', 'install', '--limit', 'h1');
    expect(install.code).toBe(72);
    expect(install.stdout).toContain(`h1 web install: failed: ${refusal('h1', 'web', 'install', 'stage', 'stage,install')}\n`);
    expect(install.stderr.trimEnd().split('\n').at(-1)).toBe('ferry: 1 host failed (h1); run it with --stages stage,install (or without --stages): completed stages are skipped');

    // nothing was recorded or done: the hosts still run release 1, complete
    expect(facts()).toEqual(before);
    for (const h of ['h1', 'h2']) {
      expect(readFileSync(join(dir, h, 'side.log'), 'utf8')).toBe('1\n');
      expect(readFileSync(join(dir, h, 'etc/payload.txt'), 'utf8')).toBe('data 1\n');
    }
    const status = await f('status', '--expect', d1);
    expect(status.code, status.stdout + status.stderr).toBe(0);

    // the maintenance-window recipe is not refused: stage and install first, configure later
    const window = await deploy('order@2', '--stages', 'stage,install');
    expect(window.code, window.stderr + window.stdout).toBe(0);
    const plan2 = await f('plan', 'order@2', '--stages', 'configure');
    expect(planRows(plan2.stdout).every((r) => / configure run version 1\.0 -> 2\.0$/.test(r))).toBe(true);
    const configure = await deploy('order@2', '--stages', 'configure');
    expect(configure.code, configure.stderr + configure.stdout).toBe(0);
    for (const h of ['h1', 'h2']) expect(readFileSync(join(dir, h, 'etc/payload.txt'), 'utf8')).toBe('data 2\n');
    expect((await f('status', '--expect', d2)).code).toBe(0);
  });

  it('refuses a gap in --stages (configure,stage without install) before any stage runs on any host, and allows it once install is done', async () => {
    for (const h of ['h1', 'h2']) rmSync(join(dir, h), { recursive: true, force: true });
    writeInventory();
    const d = writeRelease(store, {
      name: 'gap',
      version: '1',
      services: { web: { version: '1.0', groups: ['web'], files: { 'payload.txt': 'gap 1\n' }, install: [{ command: { run: 'echo installed >> {{ root }}/install.log' } }], configure: [{ file: { src: 'payload.txt', dest: '{{ root }}/etc/payload.txt' } }] } },
    });
    const reason = `configure refused: install of gap 1 (bundle ${d.slice(0, 12)}) is not done on this host; run ferry deploy with --stages stage,install,configure (or without --stages)`;
    // the plan decides in the order a deploy runs, whatever order --stages names: stage runs, configure is refused
    const plan = await f('plan', 'gap@1', '--stages', 'configure,stage');
    expect(plan.code, plan.stderr).toBe(0);
    expect(planRows(plan.stdout)).toEqual(['h1', 'h2'].flatMap((h) => [`${h} web stage run not deployed yet`, `${h} web configure refuse ${reason}`]));

    for (const extra of [[], ['--force', 'stage']]) {
      const r = await deploy('gap@1', '--stages', 'configure,stage', ...extra);
      expect(r.code, r.stderr + r.stdout).toBe(72);
      for (const h of ['h1', 'h2']) {
        expect(r.stdout).toContain(`${h} web configure: failed: host ${h}, service web: ${reason}\n`);
      }
      expect(r.stdout).toContain('stage not run on 2 (h1 web, h2 web): configure refused\n');
      expect(r.stderr.trimEnd().split('\n').at(-1)).toBe('ferry: 2 hosts failed (h1, h2); run it with --stages stage,install,configure (or without --stages): completed stages are skipped');
      // nothing ran on any host: no staged release, no fact, nothing installed or configured
      for (const h of ['h1', 'h2']) {
        expect(existsSync(join(data(h), 'facts')) ? readdirSync(join(data(h), 'facts')) : []).toEqual([]);
        expect(existsSync(join(data(h), 'releases')) ? readdirSync(join(data(h), 'releases')) : []).toEqual([]);
        expect(existsSync(join(dir, h, 'install.log'))).toBe(false);
        expect(existsSync(join(dir, h, 'etc'))).toBe(false);
      }
    }

    const full = await deploy('gap@1');
    expect(full.code, full.stderr + full.stdout).toBe(0);
    // install is done for this release: the same gap is allowed, and finds stage and configure done
    const again = await deploy('gap@1', '--stages', 'stage,configure', '--force', 'configure');
    expect(again.code, again.stderr + again.stdout).toBe(0);
    for (const h of ['h1', 'h2']) {
      expect(again.stdout).toMatch(new RegExp(`^${h} +web +skipped +- +ran \\(0 changed\\)`, 'm'));
      expect(readFileSync(join(dir, h, 'install.log'), 'utf8')).toBe('installed\n');
      expect(readFileSync(join(dir, h, 'etc/payload.txt'), 'utf8')).toBe('gap 1\n');
    }
  });

  it('plans a first configure that failed as failed and run again, and keeps a recorded configure failure through a forced install', async () => {
    for (const h of ['h1', 'h2']) rmSync(join(dir, h), { recursive: true, force: true });
    writeInventory();
    writeRelease(store, {
      name: 'health',
      version: '1',
      services: { web: { version: '1.0', groups: ['web'], files: { 'note.txt': 'note\n' }, install: [{ command: { run: 'true' } }], configure: [{ command: { run: 'if test -e {{ root }}/FAIL; then echo unhealthy >&2; exit 3; fi' } }] } },
    });
    mkdirSync(join(dir, 'h1'), { recursive: true });
    writeFileSync(join(dir, 'h1', 'FAIL'), '');
    const first = await deploy('health@1');
    expect(first.code).toBe(72);
    const failedAt = JSON.parse(fact('h1', 'web')).failure.time as string;
    const plan = await f('plan', 'health@1', '--limit', 'h1');
    expect(planRows(plan.stdout).at(-1)).toBe(`h1 web configure run configure failed at ${failedAt}, running again`);

    rmSync(join(dir, 'h1', 'FAIL'));
    expect((await deploy('health@1')).code).toBe(0);
    writeFileSync(join(dir, 'h1', 'FAIL'), '');
    expect((await deploy('health@1', '--limit', 'h1', '--force', 'configure')).code).toBe(72);
    const forcedAt = JSON.parse(fact('h1', 'web')).failure.time as string;
    // a forced install completes: the configure failure recorded before it is still there
    const install = await deploy('health@1', '--limit', 'h1', '--force', 'install', '--stages', 'stage,install');
    expect(install.code, install.stderr + install.stdout).toBe(0);
    expect(JSON.parse(fact('h1', 'web')).failure).toMatchObject({ stage: 'configure', time: forcedAt });
    const plan2 = await f('plan', 'health@1', '--limit', 'h1');
    expect(planRows(plan2.stdout).at(-1)).toBe(`h1 web configure run configure failed at ${forcedAt}, running again`);
    expect(existsSync(join(dir, 'h1', 'FAIL'))).toBe(true);
  });
});
