import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/pgp/generateKey.js';
import { writeAptRepository } from '../../src/sources/apt/writeAptRepository.js';
import { ferry, run } from '../helpers/cli.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { makeHelloDeb } from './debFixture.js';
import { writeRelease } from './storeFixture.js';

const enabled = await canRunLab();
const lab = await labFor('hnm', 1);

/**
 * The apt step re-reads the staged repository (key, indexes, .deb files) before apt-get sees it, also
 * when the stage stage is skipped: a file changed on the host since it was staged is refused, naming
 * it. On an isolated lab host, because the step installs packages (the rootfs case runs on a local host
 * in stagedRecheck.test.ts).
 */
describe.skipIf(!enabled)('the apt step on a lab host refuses a staged file changed since staging', () => {
  let dir: string;
  let store: string;
  let digest: string;
  let pool: string;
  const ssh = (cmd: string) => run('ssh', ['-F', lab.sshConfig, 'lab1', cmd]);
  const deploy = (...args: string[]) => ferry(['deploy', 'recheck@1', '-i', join(dir, 'inventory.yaml'), '--store', store, '--push', '-F', lab.sshConfig, ...args]);

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-recheck-lab-');
    store = join(dir, 'store');
    const key = await generateKey({ name: 'bundle' });
    const signing = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
    const deb = makeHelloDeb(dir);
    const repo = await writeAptRepository({ outDir: join(dir, 'apt'), suite: 'ferry', component: 'main', architectures: ['amd64'], debs: [{ file: deb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [signing] });
    pool = `apt/${repo.packages[0]!.poolPath}`;
    digest = writeRelease(store, {
      name: 'recheck',
      version: '1',
      services: { app: { version: '1.0', groups: ['app'], install: [{ apt: { packages: ['ferry-hello'] } }] } },
      extra: [
        { path: pool, content: readFileSync(deb), kind: 'apt', services: ['app'] },
        ...repo.indexes.map((ix) => ({ path: `apt/${ix.path}`, content: readFileSync(ix.file), kind: 'apt-index' as const, services: ['app'] })),
        { path: 'keys/bundle.asc', content: key.publicArmored, kind: 'key', services: [] },
      ],
      artifacts: { apt: { suite: 'ferry', component: 'main', architectures: ['amd64'], packages: [{ name: 'ferry-hello', version: '1.0-1', architecture: 'all', services: ['app'] }] } },
    });
    writeFileSync(join(dir, 'inventory.yaml'), 'groups: { app: { hosts: [lab1] } }\nhosts: { lab1: }\n');
    const up = await lab.sh(['up', '1']);
    expect(up.code, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['the .deb', () => pool],
    ['the repository key', () => 'keys/bundle.asc'],
  ])('%s changed: --force install exits 72 naming it, and apt-get never runs', async (_label, path) => {
    const first = await deploy();
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const staged = `/var/lib/ferry/bundles/${digest}/${path()}`;
    expect((await ssh(`cp ${staged} /root/ferry-recheck-saved && echo changed >> ${staged} && dpkg -r ferry-hello >/dev/null`)).code).toBe(0);

    const forced = await deploy('--force', 'install');
    expect(forced.code, forced.stderr + forced.stdout).toBe(72);
    expect(forced.stdout + forced.stderr).toContain(`staged file ${staged}: sha256 `);
    expect(forced.stdout + forced.stderr).toContain('(changed on this host since it was staged; run again with --force stage)');
    expect((await ssh('dpkg-query -W ferry-hello 2>/dev/null | grep -c 1.0-1 || true')).stdout.trim()).toBe('0');

    // put the signed bytes back for the next case
    expect((await ssh(`mv /root/ferry-recheck-saved ${staged}`)).code).toBe(0);
  });
});
