import { mkdtempSync, rmSync } from 'node:fs';
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
import { treeArtifacts } from './treesFixture.js';

const enabled = await canRunLab();
const lab = await labFor('tlive', 1);
const APP = '/srv/ferry-tlive-app';
const BASE = '/srv/ferry-tlive-base';

/**
 * A git checkout and a rootfs tree found changed while DEST points at them: `--repair` of install
 * prepares the new tree beside them (DEST.d/ID-r1) and leaves the live tree alone, so DEST never points
 * at a missing or half-replaced tree; configure switches DEST to the new one with one rename.
 */
describe.skipIf(!enabled)('git and rootfs: install never removes or replaces the tree the live link points at (real sshd, git, tar)', () => {
  let dir: string;
  let store: string;
  let commits: string[];
  let tarSha: string;
  const ssh = async (cmd: string) => {
    const r = await run('ssh', ['-F', lab.sshConfig, 'lab1', cmd]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  /** every entry of a tree: path, inode, type, mode, size, mtime, ctime, link; and every file's sha256 */
  const snapshot = (tree: string) => ssh(`find ${tree} -printf '%p %i %y %m %s %T@ %C@ %l\\n' | sort; find ${tree} -type f -exec sha256sum {} + | sort`);
  const deploy = async (opts: { stages?: StageName[]; repair?: boolean } = {}): Promise<DeployReport> => {
    const inventory = parseInventory('groups: { app: { hosts: [lab1] } }\nhosts: { lab1: }\n', 'inventory.yaml');
    const r = await runDeploy({ release: await loadRelease(store, 'tlive@1'), inventory, hosts: inventory.hosts, source: { push: true }, ssh: { configFile: lab.sshConfig }, log: recordingLogger(), ...opts });
    expect(r.hosts[0]!.error).toBeUndefined();
    return r;
  };

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-trees-live-');
    store = join(dir, 'store');
    const made = await treeArtifacts(dir);
    ({ commits, tarSha } = made);
    writeRelease(store, {
      name: 'tlive',
      version: '1',
      services: { app: { version: '1.0', groups: ['app'], install: [{ git: { name: 'app', dest: APP } }, { rootfs: { name: 'base', dest: BASE } }] } },
      extra: made.extra,
      artifacts: made.artifacts,
    });
    const up = await lab.sh(['up', '1']);
    expect(up.code, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--repair prepares the checkout and the tree again beside the live ones at install; configure switches to them and keeps the old ones', async () => {
    await deploy();
    const gitId = commits[3]!.slice(0, 16);
    const rootId = tarSha.slice(0, 16);
    expect((await ssh(`readlink ${APP} ${BASE}`)).split('\n')).toEqual([`ferry-tlive-app.d/${gitId}`, `ferry-tlive-base.d/${rootId}`, '']);

    // by hand, in the live trees: the checkout moved back one commit, a file of the rootfs rewritten
    await ssh(`git -C ${APP} -c advice.detachedHead=false checkout -q HEAD~1 && echo changed > ${BASE}/etc/motd`);
    const before = { app: await snapshot(`${APP}.d/${gitId}`), base: await snapshot(`${BASE}.d/${rootId}`) };
    const report = await deploy({ stages: ['install'], repair: true });
    expect(report.hosts[0]!.services.app).toMatchObject({ install: { status: 'ran', changed: 2 } });
    // what the running service uses is as it was: the same links, not one entry moved, removed or rewritten
    expect((await ssh(`readlink ${APP} ${BASE}`)).split('\n')).toEqual([`ferry-tlive-app.d/${gitId}`, `ferry-tlive-base.d/${rootId}`, '']);
    expect(await snapshot(`${APP}.d/${gitId}`)).toBe(before.app);
    expect(await snapshot(`${BASE}.d/${rootId}`)).toBe(before.base);
    expect((await ssh(`ls ${APP}.d ${BASE}.d`)).split('\n').filter((l) => l && !l.endsWith(':'))).toEqual([gitId, `${gitId}-r1`, rootId, `${rootId}-r1`]);

    // configure switches each link to the tree install prepared, and keeps the one it replaced
    await deploy({ stages: ['configure'] });
    expect((await ssh(`readlink ${APP} ${BASE}; git -C ${APP} rev-parse HEAD; git -C ${APP} status --porcelain; cat ${BASE}/etc/motd`)).split('\n')).toEqual([
      `ferry-tlive-app.d/${gitId}-r1`,
      `ferry-tlive-base.d/${rootId}-r1`,
      commits[3],
      'welcome to the base tree',
      '',
    ]);
    expect(await snapshot(`${APP}.d/${gitId}`)).toBe(before.app);
    expect(await snapshot(`${BASE}.d/${rootId}`)).toBe(before.base);

    // and a re-run finds nothing to repair
    const again = await deploy({ repair: true });
    expect(again.hosts[0]!.services.app).toMatchObject({ install: { status: 'skipped' }, configure: { status: 'skipped' } });
  });
});
