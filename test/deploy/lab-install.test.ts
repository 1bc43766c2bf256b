import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { loadRelease } from '../../src/store/loadRelease.js';
import { runDeploy, type DeployReport } from '../../src/deploy/runDeploy.js';
import { generateKey } from '../../src/pgp/generateKey.js';
import { writeAptRepository } from '../../src/sources/apt/writeAptRepository.js';
import { run } from '../helpers/cli.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { recordingLogger } from './fixtures.js';
import { makeHelloDeb } from './debFixture.js';
import { writeRelease } from './storeFixture.js';
import { makeWheel } from './wheelFixture.js';

const enabled = await canRunLab();
const lab = await labFor('dpl', 1);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!enabled)('install steps on an isolated lab host: apt from the bundle repository, a venv from its wheels', () => {
  let dir: string;
  let store: string;
  const ssh = (cmd: string) => run('ssh', ['-F', lab.sshConfig, 'lab1', cmd]);

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-deploy-lab-');
    store = join(dir, 'store');
    const key = await generateKey({ name: 'bundle' });
    const signing = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
    const deb = makeHelloDeb(dir);
    const apt = join(dir, 'apt');
    const repo = await writeAptRepository({ outDir: apt, suite: 'ferry', component: 'main', architectures: ['amd64'], debs: [{ file: deb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [signing] });
    const whl = makeWheel(dir);
    const wheel = readFileSync(whl);
    writeRelease(store, {
      name: 'labdemo',
      version: '1',
      services: {
        app: {
          version: '1.0',
          groups: ['app'],
          install: [{ apt: { packages: ['ferry-hello'] } }, { venv: { path: '/opt/venvs/app' } }],
        },
      },
      extra: [
        { path: `apt/${repo.packages[0]!.poolPath}`, content: readFileSync(deb), kind: 'apt', services: ['app'] },
        ...repo.indexes.map((ix) => ({ path: `apt/${ix.path}`, content: readFileSync(ix.file), kind: 'apt-index' as const, services: ['app'] })),
        { path: 'keys/bundle.asc', content: key.publicArmored, kind: 'key', services: [] },
        { path: 'python/files/ferryhello-1.0-py3-none-any.whl', content: wheel, kind: 'python', services: ['app'] },
      ],
      artifacts: {
        apt: { suite: 'ferry', component: 'main', architectures: ['amd64'], packages: [{ name: 'ferry-hello', version: '1.0-1', architecture: 'all', services: ['app'] }] },
        python: { services: { app: { requirements: `ferryhello==1.0 \\\n    --hash=sha256:${sha256(wheel)}\n`, index: 'python/simple/' } } },
      },
    });
    const up = await lab.sh(['up', '1']);
    expect(up.code, up.stderr).toBe(0);
    // this host starts without a policy-rc.d, so the test sees ferry put one in place and take it away
    expect((await ssh('rm -f /usr/sbin/policy-rc.d')).code).toBe(0);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const deploy = async (force?: string[], log = recordingLogger()): Promise<DeployReport> => {
    const inventory = parseInventory('groups: { app: { hosts: [lab1] } }\nhosts: { lab1: }\n', 'inventory.yaml');
    return runDeploy({ release: await loadRelease(store, 'labdemo@1'), inventory, hosts: inventory.hosts, source: { push: true }, ssh: { configFile: lab.sshConfig }, force, log });
  };

  it('installs the package with services held, builds the venv from the wheel alone, and re-runs as no-ops', async () => {
    const log = recordingLogger();
    const first = await deploy(undefined, log);
    expect(first.hosts[0]!.error).toBeUndefined();
    // the step events name what each step acts on: the packages, the virtualenv, and (configure) their
    // activations: install prepares the packages, configure installs them (lab-aptInstallLive.test.ts)
    expect(log.events.filter((e) => e.type === 'step' && e.step !== 'artifacts').map((e) => [e.stage, e.step, e.target])).toEqual([
      ['install', 'apt', { kind: 'packages', names: ['ferry-hello'] }],
      ['install', 'venv', { kind: 'tree', path: '/opt/venvs/app' }],
      ['configure', 'activate apt', { kind: 'packages', names: ['ferry-hello'] }],
      ['configure', 'activate venv', { kind: 'tree', path: '/opt/venvs/app' }],
    ]);
    expect(first.hosts[0]!.services.app!.install).toMatchObject({ status: 'ran', changed: 2 });
    expect((await ssh("dpkg-query -W -f='${Version}' ferry-hello")).stdout).toBe('1.0-1');
    expect((await ssh('cat /var/lib/ferry-hello-policy')).stdout).toBe('101\n');
    expect((await ssh('cat /etc/apt/sources.list.d/ferry-labdemo.list')).stdout).toMatch(/^deb \[signed-by=\/var\/lib\/ferry\/keys\/[0-9a-f]{64}\.asc\] file:\/var\/lib\/ferry\/bundles\/[0-9a-f]{64}\/apt ferry main\n$/);
    expect((await ssh('test -e /usr/sbin/policy-rc.d')).code).toBe(1);
    expect((await ssh('/opt/venvs/app/bin/python -c "import ferryhello; print(ferryhello.GREETING)"')).stdout).toBe('hello from a wheel\n');

    const again = await deploy();
    expect(again.hosts[0]!.services.app!.install!.status).toBe('skipped');
    // forced, the stage runs, but each step finds the host as it wants it
    const forced = await deploy(['install']);
    expect(forced.hosts[0]!.services.app!.install).toMatchObject({ status: 'ran', changed: 0 });
  });
});
