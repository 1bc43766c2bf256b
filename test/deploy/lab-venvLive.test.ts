import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy, type DeployReport } from '../../src/deploy/runDeploy.js';
import type { StageName } from '../../src/stages.js';
import { run } from '../helpers/cli.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { recordingLogger } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { makeWheel } from './wheelFixture.js';

const enabled = await canRunLab();
const lab = await labFor('vlive', 1);
const VENV = '/opt/ferry-vlive/app';

/**
 * A venv built again (`--repair`, or its marker gone) while PATH points at it: install builds the new
 * one beside it and leaves the live tree alone; configure switches to the new one.
 */
describe.skipIf(!enabled)('venv: install never removes or rewrites the tree the live link points at (real sshd, real python3 -m venv)', () => {
  let dir: string;
  let store: string;
  const ssh = async (cmd: string) => {
    const r = await run('ssh', ['-F', lab.sshConfig, 'lab1', cmd]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  /** the tree PATH points at, resolved */
  const live = async () => (await ssh(`readlink -f ${VENV}`)).trim();
  /** every entry of a tree: path, inode, type, mode, size, mtime, ctime; and every file's sha256 */
  const snapshot = (tree: string) => ssh(`find ${tree} -printf '%p %i %y %m %s %T@ %C@ %l\\n' | sort; find ${tree} -type f -exec sha256sum {} + | sort`);
  const deploy = async (opts: { stages?: StageName[]; force?: string[]; repair?: boolean } = {}): Promise<DeployReport> => {
    const inventory = parseInventory('groups: { app: { hosts: [lab1] } }\nhosts: { lab1: }\n', 'inventory.yaml');
    const r = await runDeploy({ release: await loadRelease(store, 'vlive@1'), inventory, hosts: inventory.hosts, source: { push: true }, ssh: { configFile: lab.sshConfig }, log: recordingLogger(), ...opts });
    expect(r.hosts[0]!.error).toBeUndefined();
    return r;
  };

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-venv-live-');
    store = join(dir, 'store');
    const wheel = readFileSync(makeWheel(dir));
    writeRelease(store, {
      name: 'vlive',
      version: '1',
      services: { app: { version: '1.0', groups: ['app'], install: [{ venv: { path: VENV } }] } },
      extra: [{ path: 'python/files/ferryhello-1.0-py3-none-any.whl', content: wheel, kind: 'python', services: ['app'] }],
      artifacts: { python: { services: { app: { requirements: `ferryhello==1.0 \\\n    --hash=sha256:${createHash('sha256').update(wheel).digest('hex')}\n`, index: 'python/simple/' } } } },
    });
    const up = await lab.sh(['up', '1']);
    expect(up.code, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--repair and a missing marker build a new tree at install; configure switches to it and keeps the old one', async () => {
    await deploy();
    const first = await live();
    expect(first).toMatch(new RegExp(`^${VENV}\\.d/[0-9a-f]{16}$`));

    // --repair: a package removed from the live venv by hand
    await ssh(`${VENV}/bin/python -m pip uninstall -q -y ferryhello`);
    const before = await snapshot(first);
    await deploy({ stages: ['install'], repair: true });
    // the running service's venv is as it was: not one file removed, rebuilt or rewritten
    expect(await live()).toBe(first);
    expect(await snapshot(first)).toBe(before);
    const built = (await ssh(`ls ${VENV}.d`)).split('\n').filter(Boolean);
    expect(built).toEqual([first.slice(first.lastIndexOf('/') + 1), `${first.slice(first.lastIndexOf('/') + 1)}-r1`]);

    // configure switches to the tree install built, and keeps the one it replaced
    await deploy({ repair: true });
    const second = await live();
    expect(second).toBe(`${first}-r1`);
    expect(await ssh(`${VENV}/bin/python -c 'import ferryhello; print(ferryhello.GREETING)'`)).toBe('hello from a wheel\n');
    expect(await snapshot(first)).toBe(before);

    // the live tree's marker gone: install (forced) builds beside it again, and the live tree stays as it is
    await ssh(`rm ${second}/.ferry-requirements`);
    const before2 = await snapshot(second);
    await deploy({ stages: ['install'], force: ['install'] });
    expect(await live()).toBe(second);
    expect(await snapshot(second)).toBe(before2);
    await deploy({ stages: ['configure'] });
    expect(await live()).toBe(`${first}-r2`);
    expect(await ssh(`${VENV}/bin/python -c 'import ferryhello; print(ferryhello.GREETING)'`)).toBe('hello from a wheel\n');
    // kept: the tree it replaced (for a rollback); the older one removed
    expect((await ssh(`ls ${VENV}.d`)).split('\n').filter(Boolean).sort()).toEqual([second, `${first}-r2`].map((t) => t.slice(t.lastIndexOf('/') + 1)).sort());

    // and a re-run finds nothing to do
    const again = await deploy({ force: ['install', 'configure'] });
    expect(again.hosts[0]!.services.app).toMatchObject({ install: { status: 'ran', changed: 0 }, configure: { status: 'ran', changed: 0 } });
  });
});
