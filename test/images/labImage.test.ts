import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { umociImage, writeImageBundle, type FixtureImage } from '../helpers/ociImages.js';
import { startServer, type TestServer } from '../serve/startServer.js';

const enabled = (await canRunLab()) && (await run('sh', ['-c', 'command -v podman && command -v umoci'])).code === 0;
const lab = await labFor('img', 1);

/**
 * On an air-gapped lab host (its own network namespace and root, reaching only the runner), podman
 * inside the host pulls the service's image by digest from ferry serve's registry, as a site would.
 * The host's podman keeps its images in a storage of its own (vfs: the host's root is an overlay).
 */
describe.skipIf(!enabled)('an image deployed to a lab host with podman, pulled from ferry serve', () => {
  let dir: string;
  let store: string;
  let server: TestServer;
  let app: FixtureImage;
  const ssh = (cmd: string) => run('ssh', ['-F', lab.sshConfig, 'lab1', cmd]);

  beforeAll(async () => {
    dir = await mkdtemp('/var/tmp/ferry-image-lab-');
    store = join(dir, 'store');
    const team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const image = await umociImage(join(dir, 'app'), 'amd64', { 'etc/app.conf': 'app on a lab host\n' });
    [app] = await writeImageBundle(join(dir, 'rel.ferry'), key, [{ ref: 'registry.example/team/app:1.4', services: ['app'], layout: image.layout }], {
      name: 'labimages',
      version: '1.0.0',
      services: { app: { version: '1.4.0', groups: ['app'], artifacts: {}, stage: [], install: [{ image: { ref: 'registry.example/team/app:1.4', runtime: 'podman', retag: true } }], configure: [] } },
    });
    const imported = await ferry(['import', join(dir, 'rel.ferry'), '--keyring', team.public, '--store', store]);
    expect(imported.code, imported.stderr).toBe(0);
    const up = await lab.sh(['up', '1']);
    expect(up.code, up.stderr).toBe(0);
    server = await startServer(store, { listen: [{ host: lab.runnerIp(1), port: 0 }] });
    await writeFile(join(dir, 'inventory.yaml'), `vars: { ferry_server: "${server.url}" }\ngroups: { app: { hosts: [lab1] } }\nhosts: { lab1: }\n`);
    const conf = await ssh('mkdir -p /etc/containers && printf \'[storage]\\ndriver = "vfs"\\ngraphroot = "/var/lib/ferry-lab-containers"\\nrunroot = "/run/ferry-lab-containers"\\n\' > /etc/containers/storage.conf');
    expect(conf.code, conf.stderr).toBe(0);
  });
  afterAll(async () => {
    await server?.close(0);
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('pulls the pinned digest through the registry, names it, and re-runs unchanged', async () => {
    const deploy = (...args: string[]) => ferry(['deploy', 'labimages@1.0.0', '-i', join(dir, 'inventory.yaml'), '--store', store, '-F', lab.sshConfig, ...args]);
    const first = await deploy();
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const inspected = await ssh('podman image inspect --format "{{.Digest}} {{.RepoTags}}" registry.example/team/app:1.4');
    expect(inspected.stdout.trim()).toBe(`${app.digest} [registry.example/team/app:1.4]`);
    expect(server.accessLog.some((e) => e.target === `/v2/team/app/manifests/${app.digest}` && e.status === 200)).toBe(true);
    const again = await deploy('--force', 'install', '--json');
    expect(again.code, again.stderr).toBe(0);
    const steps = (again.stdout + '\n' + again.stderr).split('\n').filter((l) => l.includes('"type":"step"')).map((l) => JSON.parse(l));
    expect(steps.filter((e) => e.step === 'image').map((e) => [e.changed, e.detail])).toEqual([[false, 'unchanged']]);
  });
});
