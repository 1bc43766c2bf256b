import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ferry, run, stepEvents } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { makeImage, push, startRegistry, type Registry } from '../image/registry.js';
import { startServer, type TestServer } from '../serve/startServer.js';

const enabled = (await canRunLab()) && (await run('sh', ['-c', 'command -v podman && command -v umoci && command -v skopeo && command -v docker-registry'])).code === 0;
const lab = await labFor('img', 1);

/**
 * The whole journey of an image: made with umoci and pushed to Debian's docker-registry on loopback
 * (the upstream), then `ferry lock`, `ferry build`, `ferry import` and `ferry serve` on the runner,
 * and `ferry deploy` with the `image` step to an air-gapped lab host (its own network namespace and
 * root, reaching only the runner), whose podman pulls the image by digest from ferry serve's registry,
 * as a site would. The host's podman keeps its images in a storage of its own (vfs: the host's root is
 * an overlay).
 */
describe.skipIf(!enabled)('an image from a registry, locked, built, imported, served and deployed to a lab host with podman', () => {
  let dir: string;
  let store: string;
  let registry: Registry;
  let server: TestServer;
  /** the manifest digest the upstream registry holds for team/app:1.4 */
  let upstreamDigest: string;
  const ssh = (cmd: string) => run('ssh', ['-F', lab.sshConfig, 'lab1', cmd]);

  beforeAll(async () => {
    dir = await mkdtemp(`/var/tmp/ferry-image-lab-${process.pid}-`);
    store = join(dir, 'store');
    // no login from the machine running the tests
    const env = { REGISTRY_AUTH_FILE: join(dir, 'no-auth.json') };
    const team = await writeKey(dir, 'team');
    registry = await startRegistry(join(dir, 'registry'));
    upstreamDigest = await makeImage(join(dir, 'layout'), 'app', { 'etc/app.conf': 'app on a lab host\n' });
    await push(join(dir, 'layout'), 'app', registry, 'team/app:1.4');

    const spec = join(dir, 'labimages.yaml');
    await writeFile(
      spec,
      `name: labimages\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\n` +
        `targets:\n  debian: { suite: bookworm, architectures: [amd64] }\n` +
        `upstreams:\n  images:\n    registries:\n      registry.example: { url: "${registry.url}" }\n` +
        `services:\n  app:\n    version: "1.4.0"\n    groups: [app]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:1.4" }\n` +
        `    install:\n      - image: { ref: "registry.example/team/app:1.4", runtime: podman, retag: true }\n`,
    );
    const locked = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env });
    expect(locked.code, locked.stderr).toBe(0);
    const built = await ferry(['build', spec, '--locked', '--key', team.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache'), '--json'], { env });
    expect(built.code, built.stderr).toBe(0);
    const imported = await ferry(['import', JSON.parse(built.stdout).bundle, '--keyring', team.public, '--store', store]);
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
    await registry?.stop();
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('pulls the upstream digest through ferry serve, names it, and re-runs unchanged', async () => {
    const deploy = (...args: string[]) => ferry(['deploy', 'labimages@1.0.0', '-i', join(dir, 'inventory.yaml'), '--store', store, '-F', lab.sshConfig, ...args]);
    const first = await deploy();
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const inspected = await ssh('podman image inspect --format "{{.Digest}} {{.RepoTags}}" registry.example/team/app:1.4');
    expect(inspected.stdout.trim()).toBe(`${upstreamDigest} [registry.example/team/app:1.4]`);
    // the host has the image's files: its layer came through the registry, lock, bundle, store and serve
    const content = await ssh('ctr=$(podman create registry.example/team/app:1.4 true) && podman export "$ctr" | tar -xOf - etc/app.conf; podman rm "$ctr" >/dev/null');
    expect(content.stdout).toBe('app on a lab host\n');
    expect(server.accessLog.some((e) => e.target === `/v2/team/app/manifests/${upstreamDigest}` && e.status === 200)).toBe(true);
    const again = await deploy('--force', 'install', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(stepEvents(again).filter((e) => e.step === 'image').map((e) => [e.changed, e.detail])).toEqual([[false, 'unchanged']]);
  });
});
