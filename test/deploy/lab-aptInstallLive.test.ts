import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy } from '../../src/deploy/runDeploy.js';
import { planDeploy } from '../../src/deploy/planDeploy.js';
import { generateKey } from '../../src/pgp/generateKey.js';
import { writeAptRepository } from '../../src/sources/apt/writeAptRepository.js';
import type { StageName } from '../../src/stages.js';
import { run } from '../helpers/cli.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { recordingLogger } from './fixtures.js';
import { makeDeb } from './debFixture.js';
import { writeRelease } from './storeFixture.js';

const enabled = await canRunLab();
const lab = await labFor('dal', 1);

/**
 * `--stages stage,install` of release 2 while release 1's package runs: install unpacked the new .deb
 * over the live one (its files, and its maintainer scripts ran) on every host at once, outside the
 * serial batches. Install now only prepares (the source, apt's resolution, dpkg never runs); configure
 * installs, with services held by policy-rc.d.
 */
describe.skipIf(!enabled)('an apt step: install of the next release leaves the installed package alone (lab host)', () => {
  let dir: string;
  let store: string;
  const ssh = (cmd: string) => run('ssh', ['-F', lab.sshConfig, 'lab1', cmd]);
  const inventory = parseInventory('groups: { app: { hosts: [lab1] } }\nhosts: { lab1: }\n', 'inventory.yaml');
  const deploy = async (version: string, stages?: StageName[]) => runDeploy({ release: await loadRelease(store, `aptlive@${version}`), inventory, hosts: inventory.hosts, source: { push: true }, ssh: { configFile: lab.sshConfig }, stages, log: recordingLogger() });

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-aptlive-');
    store = join(dir, 'store');
    const key = await generateKey({ name: 'bundle' });
    const signing = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
    for (const v of ['1', '2']) {
      const pkg = `${v}.0-1`;
      // the postinst records that it ran, and what policy-rc.d answered then
      const deb = makeDeb(join(dir), { name: 'ferry-live', version: pkg, text: `release ${v}\n`, postinst: `#!/bin/sh\n/usr/sbin/policy-rc.d ferry-live restart; echo "${pkg} $?" >> /var/lib/ferry-live-postinst\nexit 0\n` });
      const repo = await writeAptRepository({ outDir: join(dir, `apt${v}`), suite: 'ferry', component: 'main', architectures: ['amd64'], debs: [{ file: deb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [signing] });
      writeRelease(store, {
        name: 'aptlive',
        version: v,
        epoch: `2026-11-0${v}T00:00:00Z`,
        services: { app: { version: pkg, groups: ['app'], install: [{ apt: { packages: ['ferry-live'] } }] } },
        extra: [
          { path: `apt/${repo.packages[0]!.poolPath}`, content: readFileSync(deb), kind: 'apt', services: ['app'] },
          ...repo.indexes.map((ix) => ({ path: `apt/${ix.path}`, content: readFileSync(ix.file), kind: 'apt-index' as const, services: ['app'] })),
          { path: 'keys/bundle.asc', content: key.publicArmored, kind: 'key', services: [] },
        ],
        artifacts: { apt: { suite: 'ferry', component: 'main', architectures: ['amd64'], packages: [{ name: 'ferry-live', version: pkg, architecture: 'all', services: ['app'] }] } },
      });
    }
    const up = await lab.sh(['up', '1']);
    expect(up.code, up.stderr).toBe(0);
    expect((await ssh('rm -f /usr/sbin/policy-rc.d /var/lib/ferry-live-postinst')).code).toBe(0);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('install of release 2 changes nothing of release 1: package, its files, no maintainer script; configure installs it, services held', async () => {
    const first = await deploy('1');
    expect(first.ok, JSON.stringify(first.hosts[0]!.error ?? first.hosts[0]!.services)).toBe(true);
    const installed = async () => (await ssh("dpkg-query -W -f='${db:Status-Abbrev}${Version}' ferry-live; echo; cat /usr/share/ferry-live/hello.txt; cat /var/lib/ferry-live-postinst")).stdout;
    const live = await installed();
    expect(live).toBe('ii 1.0-1\nrelease 1\n1.0-1 101\n');

    const prepared = await deploy('2', ['stage', 'install']);
    expect(prepared.ok, JSON.stringify(prepared.hosts[0]!.error ?? prepared.hosts[0]!.services)).toBe(true);
    expect(prepared.hosts[0]!.services.app!.install).toMatchObject({ status: 'ran', changed: 1 });
    // the running release's package, its files and its maintainer scripts' record: as they were
    expect(await installed()).toBe(live);
    expect((await ssh('test -e /usr/sbin/policy-rc.d')).code).toBe(1);
    // and the configure still to come installs it
    const plan = await planDeploy({ release: await loadRelease(store, 'aptlive@2'), inventory, hosts: inventory.hosts, ssh: { configFile: lab.sshConfig } });
    expect(plan.rows.find((r) => r.stage === 'configure')).toMatchObject({ run: true });

    const configured = await deploy('2', ['configure']);
    expect(configured.ok, JSON.stringify(configured.hosts[0]!.error ?? configured.hosts[0]!.services)).toBe(true);
    expect(configured.hosts[0]!.services.app!.configure).toMatchObject({ status: 'ran', changed: 1 });
    // installed in configure, with services held while dpkg ran
    expect(await installed()).toBe('ii 2.0-1\nrelease 2\n1.0-1 101\n2.0-1 101\n');
    expect((await ssh('test -e /usr/sbin/policy-rc.d')).code).toBe(1);
  });
});
