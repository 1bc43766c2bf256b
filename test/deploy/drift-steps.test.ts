import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDrift } from '../../src/deploy/checkDrift.js';
import { runDeploy } from '../../src/deploy/runDeploy.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { labInventory, recordingLogger, resetHost, useLab } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { makeWheel } from './wheelFixture.js';

describe('drift of the switch to a venv, a file that must be absent and a command guard, over real OpenSSH', () => {
  const ctx = useLab('driftsteps', ['d1', 'd2']);

  it('--check names each, changes nothing and leaves guardless commands unchecked; --repair runs only those steps; an unreachable host is not checked', async () => {
    for (const h of ctx.lab.hosts) resetHost(h);
    const wheel = readFileSync(makeWheel(ctx.dir));
    writeRelease(ctx.store, {
      name: 'steps',
      version: '1',
      services: {
        app: {
          version: '1.0',
          groups: ['web'],
          install: [{ venv: { path: '{{ root }}/opt/venvs/app', python: '/usr/bin/python3' } }],
          configure: [
            { file: { dest: '{{ root }}/etc/old.conf', state: 'absent' } },
            { command: { run: 'touch {{ root }}/marker', creates: '{{ root }}/marker' } },
            { command: { run: 'echo ran >> {{ root }}/unguarded.log' } },
            { service: { name: 'app', systemctl: '{{ root }}/bin/systemctl' } },
          ],
        },
      },
      extra: [{ path: 'python/files/ferryhello-1.0-py3-none-any.whl', content: wheel, kind: 'python', services: ['app'] }],
      artifacts: { python: { services: { app: { requirements: `ferryhello==1.0 --hash=sha256:${createHash('sha256').update(wheel).digest('hex')}\n` } } } },
    });
    const release = await loadRelease(ctx.store, 'steps@1');
    const { inventory } = labInventory(ctx.lab.hosts, { ferry_server: ctx.server.url });
    const common = { release, inventory, hosts: inventory.hosts, ssh: { configFile: ctx.lab.sshConfig } };
    expect((await runDeploy({ ...common, source: { push: true }, log: recordingLogger() })).ok).toBe(true);
    expect((await checkDrift(common)).drift).toEqual([]);

    const [d1, d2] = ctx.lab.hosts as [(typeof ctx.lab.hosts)[0], (typeof ctx.lab.hosts)[0]];
    const live = readlinkSync(join(d1.root, 'opt/venvs/app'));
    writeFileSync(join(d1.root, 'etc/old.conf'), 'came back\n');
    rmSync(join(d1.root, 'marker'));
    rmSync(join(d1.root, 'opt/venvs/app'));
    symlinkSync('/nonexistent/venv', join(d1.root, 'opt/venvs/app'));
    const facts = () => ctx.lab.hosts.map((h) => readFileSync(join(h.root, 'var/lib/ferry/facts/app.json'), 'utf8'));
    const before = facts();

    const log = recordingLogger();
    const check = await checkDrift({ ...common, log });
    expect(check.failed).toEqual([]);
    expect(check.drift.map((r) => ({ host: r.host, stage: r.stage, step: r.step, target: r.target, differences: r.differences }))).toEqual([
      { host: 'd1', stage: 'configure', step: 'activate venv', target: join(d1.root, 'opt/venvs/app'), differences: [{ what: 'link', want: live, have: '/nonexistent/venv' }] },
      { host: 'd1', stage: 'configure', step: 'file', target: join(d1.root, 'etc/old.conf'), differences: [{ what: 'state', want: 'absent', have: 'present' }] },
      { host: 'd1', stage: 'configure', step: 'command', target: expect.stringMatching(/^command "touch /), differences: [{ what: 'creates', want: `${join(d1.root, 'marker')} present`, have: 'missing' }] },
    ]);
    expect(check.unchecked.map((r) => `${r.host} ${r.unchecked}`)).toEqual(['d1 a command without guards runs whenever its stage runs', 'd2 a command without guards runs whenever its stage runs']);
    expect(log.events.filter((e) => e.type === 'drift')).toHaveLength(3);
    // read only: the facts, the stray file, the link and the missing marker are as they were
    expect(facts()).toEqual(before);
    expect(readlinkSync(join(d1.root, 'opt/venvs/app'))).toBe('/nonexistent/venv');
    expect(existsSync(join(d1.root, 'etc/old.conf'))).toBe(true);
    expect(existsSync(join(d1.root, 'marker'))).toBe(false);

    const repairLog = recordingLogger();
    const repair = await runDeploy({ ...common, source: { push: true }, repair: true, log: repairLog });
    expect(repair.ok).toBe(true);
    const stepsRun = repairLog.events.filter((e) => e.type === 'step').map((e) => `${e.host} ${e.step} ${e.changed ? 'changed' : 'unchanged'}`);
    // the guardless command does not run again; the service restarts because the switch changed
    expect(stepsRun).toEqual(['d1 activate venv changed', 'd1 file changed', 'd1 command changed', 'd1 service changed']);
    expect(repair.hosts[0]!.services.app!.configure).toMatchObject({ status: 'ran', changed: 4, reason: expect.stringMatching(/^drift: /) });
    expect(repair.hosts[1]!.services.app!.configure).toMatchObject({ status: 'skipped' });
    expect(readFileSync(join(d1.root, 'unguarded.log'), 'utf8')).toBe('ran\n');
    expect(readlinkSync(join(d1.root, 'opt/venvs/app'))).toBe(live);
    expect((await checkDrift(common)).drift).toEqual([]);

    await ctx.lab.stop(d2);
    const partial = await checkDrift({ ...common, retry: { retries: 0, delayMs: 0 } });
    expect(partial.failed.map((f) => f.host)).toEqual(['d2']);
    expect(partial.drift).toEqual([]);
    await ctx.lab.start(d2);
  });
});
