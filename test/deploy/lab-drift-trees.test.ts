import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { runFerry } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { treeArtifacts } from './treesFixture.js';

const enabled = await canRunLab();
const lab = await labFor('drtree', 2);
const APP = '/srv/ferry-drift-app';
const BASE = '/srv/ferry-drift-base';
const ETC = '/etc/ferry-drift';

describe.skipIf(!enabled)('drift of a git checkout, a rootfs tree and a file owner on real hosts: --check names it and changes nothing, --repair puts it back', () => {
  let dir: string;
  let store: string;
  let inventory: string;
  let commits: string[];
  let tarSha: string;
  const ssh = (host: string, cmd: string) => run('ssh', ['-F', lab.sshConfig, host, cmd]);
  const ferry = (...args: string[]) => runFerry(...args, 'trees@1', '-i', inventory, '--store', store, '-F', lab.sshConfig);
  const checkout = () => `${APP}.d/${commits[3]!.slice(0, 16)}`;
  const tree = () => `${BASE}.d/${tarSha.slice(0, 16)}`;

  /** Every file, folder and link of what ferry manages here, with type, mode, owner, size, mtime, ctime, link target and sha256 (a checkout's .git too). */
  const snapshot = async (host: string) => {
    const places = `/var/lib/ferry ${APP} ${APP}.d ${BASE} ${BASE}.d ${ETC}`;
    const r = await ssh(host, `find ${places} -printf '%p %y %m %U %G %s %T@ %C@ %l\\n' | sort; find ${places} -type f -exec sha256sum {} + | sort`);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-drift-trees-');
    store = join(dir, 'store');
    const made = await treeArtifacts(dir);
    ({ commits, tarSha } = made);
    writeRelease(store, {
      name: 'trees',
      version: '1',
      services: {
        app: {
          version: '1.0',
          groups: ['app'],
          install: [{ git: { name: 'app', dest: APP } }, { rootfs: { name: 'base', dest: BASE } }],
          configure: [
            { file: { content: 'owned by daemon\n', dest: `${ETC}/owned.conf`, mode: '0640', owner: 'daemon', group: 'daemon' } },
            // the same owner by its ids: compared as numbers, not with the names the host has for them
            { file: { content: 'owned by uid and gid 1\n', dest: `${ETC}/ids.conf`, owner: '1', group: '1' } },
          ],
        },
      },
      extra: made.extra,
      artifacts: made.artifacts,
    });
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, 'groups: { app: { hosts: [lab1, lab2] } }\nhosts: { lab1: , lab2: }\n');
    const up = await lab.sh(['up', '2']);
    expect(up.code, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a moved commit, changed and removed files in the checkout and the tree, and a changed owner and group; repairs exactly those', async () => {
    const first = await ferry('deploy', '--push');
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const clean = await ferry('plan', '--check');
    expect(clean.code, clean.stderr + clean.stdout).toBe(0);
    expect(clean.stdout).toMatch(/^no drift: \d+ steps on 2 hosts match/m);

    // by hand. lab1: the checkout moved back one commit, a file of the tree rewritten (and another only
    // touched), the file's owner changed. lab2: tracked files of the checkout edited, removed and
    // chmodded (and an untracked one added), a file of the tree chmodded and another removed (and one
    // added), the file's group changed.
    const hand = {
      lab1: [`git -C ${APP} -c advice.detachedHead=false checkout -q HEAD~1`, `echo changed > ${BASE}/etc/motd`, `touch ${BASE}/usr/bin/tool`, `chown nobody ${ETC}/owned.conf`],
      lab2: [
        `echo edited >> ${APP}/README.md`,
        `rm ${APP}/src/file2.txt`,
        `chmod 0644 ${APP}/bin/run.sh`,
        `echo notes > ${APP}/notes.txt`,
        `chmod 0600 ${BASE}/etc/motd`,
        `rm ${BASE}/usr/bin/tool`,
        `echo local > ${BASE}/etc/added`,
        `chgrp nogroup ${ETC}/owned.conf`,
      ],
    };
    for (const [host, cmds] of Object.entries(hand)) {
      const r = await ssh(host, cmds.join(' && '));
      expect(r.code, r.stderr).toBe(0);
    }
    const before = await Promise.all(['lab1', 'lab2'].map(snapshot));

    const check = await ferry('deploy', '--check');
    expect(check.code, check.stderr + check.stdout).toBe(2);
    expect(check.stderr).toMatch(/^ferry: drift: 6 steps differ on lab1, lab2; ferry deploy --repair/m);
    const c = (i: number) => commits[i]!.slice(0, 12);
    const t12 = tarSha.slice(0, 12);
    expect(check.stdout.split('\n').filter((l) => /^lab\d /.test(l))).toEqual([
      `lab1 app install git ${checkout()}: commit: want ${c(3)}, host has ${c(2)}`,
      `lab1 app install rootfs ${tree()}: tree: want unpacked from sha256 ${t12}, host has 1 file differs: etc/motd (content)`,
      `lab1 app configure file ${ETC}/owned.conf: owner: want daemon, host has nobody`,
      `lab2 app install git ${checkout()}: worktree: want clean, host has 3 files differ: README.md (changed), bin/run.sh (changed), src/file2.txt (removed)`,
      `lab2 app install rootfs ${tree()}: tree: want unpacked from sha256 ${t12}, host has 2 files differ: etc/motd (mode), usr/bin/tool (missing)`,
      `lab2 app configure file ${ETC}/owned.conf: group: want daemon, host has nogroup`,
    ]);
    expect(check.stdout).toMatch(/^6 of \d+ steps differ on 2 of 2 hosts/m);

    // nothing on either host changed, not even the checkouts' git index (a plain `git status` rewrites it)
    expect(await Promise.all(['lab1', 'lab2'].map(snapshot))).toEqual(before);

    const repair = await ferry('deploy', '--repair', '--push', '--json');
    expect(repair.code, repair.stderr + repair.stdout).toBe(0);
    const changed = repair.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; host: string; stage: string; step: string; changed?: boolean })
      .filter((e) => e.type === 'step' && e.changed)
      .map((e) => `${e.host} ${e.stage} ${e.step}`)
      .sort();
    // install prepares the checkout and the tree again beside the live ones (ID-r1); configure switches to them
    expect(changed).toEqual([
      'lab1 configure activate git',
      'lab1 configure activate rootfs',
      'lab1 configure file',
      'lab1 install git',
      'lab1 install rootfs',
      'lab2 configure activate git',
      'lab2 configure activate rootfs',
      'lab2 configure file',
      'lab2 install git',
      'lab2 install rootfs',
    ]);

    const after = await ferry('plan', '--check');
    expect(after.code, after.stderr + after.stdout).toBe(0);
    expect(after.stdout).toMatch(/^no drift: \d+ steps on 2 hosts match/m);
    for (const host of ['lab1', 'lab2']) {
      const r = await ssh(host, `git -C ${APP} rev-parse HEAD; git -C ${APP} status --porcelain --untracked-files=all; cat ${BASE}/etc/motd; stat -c '%a %U:%G' ${BASE}/etc/motd ${BASE}/usr/bin/tool ${ETC}/owned.conf; readlink ${APP} ${BASE}`);
      expect(r.stdout, r.stderr).toBe(
        [commits[3], 'welcome to the base tree', '644 root:root', '755 root:root', '640 daemon:daemon', `${checkout().slice('/srv/'.length)}-r1`, `${tree().slice('/srv/'.length)}-r1`, ''].join('\n'),
      );
    }
  });
});
