import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRelease } from '../../src/store/loadRelease.js';
import { type DeployOptions, type DeployReport, runDeploy } from '../../src/deploy/runDeploy.js';
import { run } from '../helpers/cli.js';
import { labInventory, recordingLogger, resetHost, useLab } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { makeWheel } from './wheelFixture.js';

const ran = (r: DeployReport) => r.hosts.flatMap((h) => Object.entries(h.services).flatMap(([svc, st]) => Object.entries(st).filter(([, o]) => o!.status === 'ran').map(([stage]) => `${h.host} ${svc} ${stage}`)));

/** A pure-Python wheel whose module says `greeting`. */
function wheel(dir: string, version: string, greeting: string): { name: string; bytes: Buffer } {
  const path = makeWheel(dir, version, greeting);
  return { name: basename(path), bytes: readFileSync(path) };
}

describe('install prepares, configure activates', () => {
  const ctx = useLab('activate', ['a1', 'a2']);

  /** Release N of "app": the same service version each time, only the pinned wheel changes (no version bump). */
  const release = (n: number, greeting: string) => {
    const w = wheel(ctx.dir, `1.${n}`, greeting);
    const sha = createHash('sha256').update(w.bytes).digest('hex');
    return writeRelease(ctx.store, {
      name: 'app',
      version: String(n),
      services: {
        app: {
          version: '1.0',
          groups: ['web'],
          install: [{ venv: { path: '{{ root }}/opt/venvs/app', python: '/usr/bin/python3' } }],
          configure: [{ service: { name: 'app', systemctl: '{{ root }}/bin/systemctl', check: 'test -e {{ root }}/healthy', check_tries: 1, check_delay: 0 } }],
        },
      },
      extra: [{ path: `python/files/${w.name}`, content: w.bytes, kind: 'python', services: ['app'] }],
      artifacts: { python: { services: { app: { requirements: `ferryhello==1.${n} \\\n    --hash=sha256:${sha}\n` } } } },
    });
  };
  const deploy = async (ref: string, extra: Partial<DeployOptions> = {}) => {
    const { inventory } = labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url });
    return runDeploy({ release: await loadRelease(ctx.store, ref), inventory, hosts: inventory.hosts, source: { push: false }, ssh: { configFile: ctx.lab.sshConfig }, log: recordingLogger(), ...extra });
  };
  const greeting = async (root: string) => (await run(join(root, 'opt/venvs/app/bin/python'), ['-c', 'import ferryhello; print(ferryhello.GREETING)'])).stdout.trim();
  const restarts = (root: string) => (existsSync(join(root, 'systemctl.log')) ? readFileSync(join(root, 'systemctl.log'), 'utf8').split('\n').filter((l) => l === 'restart app').length : 0);
  const trees = (root: string) => readdirSync(join(root, 'opt/venvs/app.d')).sort();
  const fact = (root: string) => JSON.parse(readFileSync(join(root, 'var/lib/ferry/facts/app.json'), 'utf8'));

  it('the maintenance-window recipe: stage and install leave the running venv alone, configure switches and restarts, in a later run', async () => {
    for (const h of ctx.lab.hosts) {
      resetHost(h);
      writeFileSync(join(h.root, 'healthy'), '');
    }
    release(1, 'one');
    release(2, 'two');
    release(3, 'three');
    expect((await deploy('app@1')).ok).toBe(true);
    for (const h of ctx.lab.hosts) {
      expect(await greeting(h.root)).toBe('one');
      expect(readlinkSync(join(h.root, 'opt/venvs/app'))).toMatch(/^app\.d\/[0-9a-f]{16}$/);
    }

    // before the window: new pins (no version bump) staged and built beside the running venv
    const before = await deploy('app@2', { stages: ['stage', 'install'] });
    expect(before.ok).toBe(true);
    expect(ran(before).sort()).toEqual(['a1 app install', 'a1 app stage', 'a2 app install', 'a2 app stage']);
    for (const h of ctx.lab.hosts) {
      expect(await greeting(h.root)).toBe('one');
      expect(trees(h.root)).toHaveLength(2);
      expect(restarts(h.root)).toBe(1);
      expect(fact(h.root).pending).toMatchObject({ changes: ['venv'] });
    }

    // inside the window: configure alone switches every host and restarts, one host at a time
    const window = await deploy('app@2', { stages: ['configure'] });
    expect(window.ok).toBe(true);
    expect(ran(window)).toEqual(['a1 app configure', 'a2 app configure']);
    for (const h of ctx.lab.hosts) {
      expect(await greeting(h.root)).toBe('two');
      expect(restarts(h.root)).toBe(2);
      expect(fact(h.root).pending).toBeUndefined();
    }

    // a third release: the current and the previous venv stay (for a rollback), the oldest goes
    const third = await deploy('app@3');
    expect(third.ok).toBe(true);
    for (const h of ctx.lab.hosts) {
      expect(await greeting(h.root)).toBe('three');
      expect(trees(h.root)).toHaveLength(2);
    }
    // rolling back to 2 builds nothing: its venv is still there, configure switches back to it
    const back = await deploy('app@2');
    expect(back.ok).toBe(true);
    expect(back.hosts.map((h) => h.services.app!.install)).toEqual([expect.objectContaining({ status: 'ran', changed: 0 }), expect.objectContaining({ status: 'ran', changed: 0 })]);
    for (const h of ctx.lab.hosts) expect(await greeting(h.root)).toBe('two');
  });

  it('keeps the activation pending until the health check passes, and restarts for it in the next run', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    release(4, 'four');
    release(5, 'five');
    for (const h of ctx.lab.hosts) writeFileSync(join(h.root, 'healthy'), '');
    expect((await deploy('app@4')).ok).toBe(true);
    const a1 = ctx.lab.hosts[0]!;
    rmSync(join(a1.root, 'healthy'));
    const sick = await deploy('app@5');
    expect(sick.ok).toBe(false);
    expect(sick.hosts[0]!.error).toMatch(/health check of app still failing/);
    expect(fact(a1.root).pending).toMatchObject({ changes: ['venv'] });
    expect(fact(a1.root).failure).toMatchObject({ stage: 'configure', step: 'service' });

    writeFileSync(join(a1.root, 'healthy'), '');
    const restartsBefore = restarts(a1.root);
    const healed = await deploy('app@5');
    expect(healed.ok).toBe(true);
    expect(healed.hosts[0]!.services.app!.configure).toMatchObject({ status: 'ran' });
    expect(restarts(a1.root)).toBe(restartsBefore + 1);
    expect(fact(a1.root).pending).toBeUndefined();
    expect(fact(a1.root).failure).toBeUndefined();
  });
});
