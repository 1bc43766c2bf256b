import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry, run, stepEvents as events } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { multiPlatformImage, swapRefNames, umociImage, writeImageBundle, writeImageRelease, type FixtureImage } from '../helpers/ociImages.js';
import { startServer, type TestServer } from '../serve/startServer.js';
import { sha256Hex } from '../../src/util/sha256.js';

const root = process.getuid?.() === 0;
const haveContainerd = root && (await run('sh', ['-c', 'command -v containerd && command -v ctr && command -v umoci'])).code === 0;
const haveDocker = root && (await run('sh', ['-c', 'command -v dockerd && command -v docker && command -v skopeo && command -v umoci'])).code === 0;

type Run = ReturnType<typeof run>;
interface Daemon {
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** Start DAEMON with ARGS and wait until READY answers; a daemon that exits fails the wait (no time guess). */
async function startDaemon(cmd: string, args: string[], env: NodeJS.ProcessEnv, ready: () => Run): Promise<Daemon> {
  const daemon: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`${cmd} exited: ${log}`);
    if ((await ready()).code === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    env,
    async stop() {
      daemon.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * A containerd of the test's own (its root, state and socket in DIR; the CRI plugin off), never the
 * machine's. ctr and the image step's ctr find it through CONTAINERD_ADDRESS; the native snapshotter
 * unpacks without overlay mounts.
 */
async function startContainerd(dir: string): Promise<Daemon & { ctr(args: string[]): Run }> {
  const config = join(dir, 'config.toml');
  await writeFile(config, [`version = 2`, `root = "${dir}/root"`, `state = "${dir}/state"`, `disabled_plugins = ["io.containerd.grpc.v1.cri"]`, `[grpc]`, `  address = "${dir}/c.sock"`, ''].join('\n'));
  const env = { CONTAINERD_ADDRESS: `${dir}/c.sock`, CONTAINERD_SNAPSHOTTER: 'native' };
  const d = await startDaemon('containerd', ['--config', config], env, () => run('ctr', ['version'], { env }));
  return { ...d, ctr: (args) => run('ctr', ['-n', 'k8s.io', ...args], { env }) };
}

/**
 * A Docker engine of the test's own (data, exec root and socket in DIR; no iptables, no bridge, vfs
 * storage: it only pulls, loads and tags here). docker and skopeo's docker-daemon: find it through
 * DOCKER_HOST. Loopback registries are plain HTTP to docker without configuration.
 */
async function startDockerd(dir: string): Promise<Daemon & { docker(args: string[]): Run }> {
  const env = { DOCKER_HOST: `unix://${dir}/d.sock` };
  const args = ['--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--pidfile', `${dir}/pid`, '-H', env.DOCKER_HOST, '--iptables=false', '--ip6tables=false', '--bridge=none', '--storage-driver=vfs'];
  const d = await startDaemon('dockerd', args, env, () => run('docker', ['version'], { env }));
  return { ...d, docker: (a) => run('docker', a, { env }) };
}

describe.skipIf(!haveContainerd && !haveDocker)('the image deploy step with real daemons of the test\'s own (local host)', () => {
  let dir: string;
  let store: string;
  let server: TestServer;
  let app: FixtureImage;
  let multi: FixtureImage;
  /** the app's config digest: the image ID docker gives it */
  let appConfig: string;
  /** the bytes of the decoy's manifest (carried by the swapped release) */
  let decoyManifest: Buffer;
  const daemons: Daemon[] = [];
  const V = '1.0.0';

  const inventory = async (name: string, data: string, serverUrl?: string) => {
    const file = join(dir, `${name}.yaml`);
    const vars = { ferry_data_dir: data, ferry_ansible_facts_dir: '', ...(serverUrl ? { ferry_server: serverUrl } : {}) };
    await writeFile(file, JSON.stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars } } }));
    return file;
  };
  const own = async <D extends Daemon>(name: string, start: (dir: string) => Promise<D>): Promise<D> => {
    const d = await start(await mkdtemp(join(dir, `${name}-`)));
    daemons.push(d);
    return d;
  };
  const pulls = () => server.accessLog.filter((e) => e.target.startsWith('/v2/team/') && e.status === 200).length;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-daemons-'));
    store = join(dir, 'store');
    const team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const appImage = await umociImage(join(dir, 'app'), 'amd64', { 'etc/app.conf': 'app 1.4\n' });
    const m = await multiPlatformImage(join(dir, 'multi'), { 'etc/multi.conf': 'multi\n' });
    // one release per runtime, the same two images
    for (const runtime of ['containerd', 'docker']) {
      const install = [
        { image: { ref: 'registry.example/team/app:1.4', runtime, retag: true } },
        { image: { ref: 'registry.example/team/multi:2.0', runtime } },
      ];
      [app, multi] = await writeImageBundle(
        join(dir, `${runtime}.ferry`),
        key,
        [
          { ref: 'registry.example/team/app:1.4', services: ['web'], layout: appImage.layout },
          { ref: 'registry.example/team/multi:2.0', services: ['web'], layout: m.layout },
        ],
        { name: runtime, version: V, services: { web: { version: '1.4.0', groups: ['web'], artifacts: {}, stage: [], install, configure: [] } } },
      );
      const r = await ferry(['import', join(dir, `${runtime}.ferry`), '--keyring', team.public, '--store', store]);
      expect(r.code, r.stderr).toBe(0);
    }
    // a layout whose index.json names the app's reference at another image it carries, and that image's
    // reference at the app: manifest.artifacts.image (what plan, diff and the SBOM show) pins the app. Import
    // refuses such a bundle (test/images/imageIndexMismatch.test.ts); a store can still hold one an earlier
    // ferry imported, so it is written into the store directly
    const decoyImage = await umociImage(join(dir, 'decoy'), 'amd64', { 'etc/app.conf': 'not the pinned app\n' });
    const [, decoy] = await writeImageRelease(
      store,
      [
        { ref: 'registry.example/team/app:1.4', services: ['web'], layout: appImage.layout },
        { ref: 'registry.example/team/decoy:1', services: ['web'], layout: decoyImage.layout },
      ],
      { name: 'swapped', version: V, services: { web: { version: '1.4.0', groups: ['web'], stage: [], install: [{ image: { ref: 'registry.example/team/app:1.4', runtime: 'docker' } }], configure: [] } } },
      swapRefNames('registry.example/team/app:1.4', 'registry.example/team/decoy:1'),
    );
    decoyManifest = await readFile(join(decoyImage.layout, 'blobs', 'sha256', decoy!.digest.slice(7)));
    appConfig = (JSON.parse(await readFile(join(appImage.layout, 'blobs', 'sha256', app.digest.slice(7)), 'utf8')) as { config: { digest: string } }).config.digest;
    server = await startServer(store);
  });
  afterAll(async () => {
    for (const d of daemons) await d.stop();
    await server?.close(0);
    await rm(dir, { recursive: true, force: true });
  });

  describe.skipIf(!haveContainerd)('containerd 1.6 (ctr, namespace k8s.io)', () => {
    const rel = `containerd@${V}`;
    /** name -> digest of the images containerd has in the k8s.io namespace */
    const images = async (ctr: (args: string[]) => Run) => {
      const r = await ctr(['images', 'ls']);
      expect(r.code, r.stderr).toBe(0);
      return new Map(
        r.stdout
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(/\s+/))
          .map((f) => [f[0]!, f[2]!]),
      );
    };

    it('pulls each image by digest from ferry serve over plain HTTP, retags it, finds it present the next time, and --check/--repair see and fix a lost tag', async () => {
      const { env, ctr } = await own('ctrd-pull', startContainerd);
      const inv = await inventory('ctrd-pull', join(dir, 'data-ctrd-pull'), server.url);
      const first = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--json'], { env });
      expect(first.code, first.stderr + first.stdout).toBe(0);
      expect(events(first).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual([
        expect.stringMatching(new RegExp(`^pulled 127\\.0\\.0\\.1:\\d+/team/app@${app.digest}$`)),
        expect.stringMatching(new RegExp(`^pulled 127\\.0\\.0\\.1:\\d+/team/multi@${multi.digest}$`)),
      ]);
      // the tag moves at configure (the activation of the step with retag)
      expect(events(first).filter((s) => s.step === 'activate image').map((s) => s.detail)).toEqual(['tagged registry.example/team/app:1.4']);
      const had = await images(ctr);
      expect(had.get('registry.example/team/app:1.4')).toBe(app.digest);
      expect([...had.values()]).toContain(multi.digest);
      const pulled = pulls();

      const again = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--force', 'install', '--json'], { env });
      expect(again.code, again.stderr).toBe(0);
      expect(events(again).filter((s) => s.step === 'image').map((s) => [s.changed, s.detail])).toEqual([[false, 'unchanged'], [false, 'unchanged']]);
      expect(pulls()).toBe(pulled);

      // by hand: the original name removed; --check names it and changes nothing
      expect((await ctr(['images', 'rm', 'registry.example/team/app:1.4'])).code).toBe(0);
      const requests = server.accessLog.length;
      const drift = await ferry(['plan', rel, '--store', store, '--allow-local', '-i', inv, '--check'], { env });
      expect(drift.code, drift.stderr + drift.stdout).toBe(2);
      expect(drift.stdout).toContain(`runner web configure activate image registry.example/team/app:1.4 (containerd): tag: want registry.example/team/app:1.4 at ${app.digest.slice(0, 19)}, host has no registry.example/team/app:1.4\n`);
      expect(server.accessLog.length).toBe(requests);
      expect((await images(ctr)).has('registry.example/team/app:1.4')).toBe(false);

      const repaired = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--repair', '--json'], { env });
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(events(repaired).filter((e) => e.step === 'activate image').map((e) => e.detail)).toEqual(['tagged registry.example/team/app:1.4']);
      expect((await images(ctr)).get('registry.example/team/app:1.4')).toBe(app.digest);
      expect((await ferry(['plan', rel, '--store', store, '--allow-local', '-i', inv, '--check'], { env })).code).toBe(0);
    });

    it('with --push, imports each image from the staged OCI layout under ferry\'s private name, without any registry; a changed staged index is refused', async () => {
      const { env, ctr } = await own('ctrd-push', startContainerd);
      const data = join(dir, 'data-ctrd-push');
      const inv = await inventory('ctrd-push', data);
      const before = server.accessLog.length;
      const r = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--push', '--json'], { env });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(events(r).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual(['loaded registry.example/team/app:1.4', 'loaded registry.example/team/multi:2.0']);
      expect(server.accessLog.length).toBe(before);
      const had = await images(ctr);
      // install imported each under ferry's private name; configure named the one with retag by its reference
      expect(had.get(`localhost/ferry-staged:${app.digest.slice(7)}`)).toBe(app.digest);
      expect(had.get(`localhost/ferry-staged:${multi.digest.slice(7)}`)).toBe(multi.digest);
      expect(had.get('registry.example/team/app:1.4')).toBe(app.digest);
      expect(had.has('registry.example/team/multi:2.0')).toBe(false);
      // nothing named after the staged folder
      expect([...had.keys()].filter((n) => n.includes(data))).toEqual([]);

      // the image gone from the host (under every name containerd keeps for it), so it has to be loaded again
      const names = [...had].filter(([, d]) => d === app.digest).map(([n]) => n);
      expect((await ctr(['images', 'rm', ...names])).code).toBe(0);
      await tamperStagedIndex(data);
      const tampered = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--push', '--force', 'install'], { env });
      expect(tampered.code).not.toBe(0);
      expect(tampered.stdout + tampered.stderr).toMatch(/staged file .*oci\/index\.json: sha256 [0-9a-f]{64}, the bundle says/);
      expect((await images(ctr)).has('registry.example/team/app:1.4')).toBe(false);
    });
  });

  describe.skipIf(!haveDocker)('docker (the engine started by the test, its API through DOCKER_HOST)', () => {
    const rel = `docker@${V}`;
    /** the image ID a name has in the engine, or undefined */
    const idOf = async (docker: (a: string[]) => Run, name: string) => {
      const r = await docker(['image', 'inspect', '--format', '{{.Id}}', name]);
      return r.code === 0 ? r.stdout.trim() : undefined;
    };

    it('pulls each image by digest from ferry serve, retags it, finds it present the next time, and --check/--repair see and fix a lost tag', async () => {
      const { env, docker } = await own('dock-pull', startDockerd);
      const inv = await inventory('dock-pull', join(dir, 'data-dock-pull'), server.url);
      const registry = new URL(server.url).host;
      const first = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--json'], { env });
      expect(first.code, first.stderr + first.stdout).toBe(0);
      expect(events(first).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual([
        `pulled ${registry}/team/app@${app.digest}`,
        `pulled ${registry}/team/multi@${multi.digest}`,
      ]);
      // the tag moves at configure (the activation of the step with retag)
      expect(events(first).filter((s) => s.step === 'activate image').map((s) => s.detail)).toEqual(['tagged registry.example/team/app:1.4']);
      const appId = await idOf(docker, `${registry}/team/app@${app.digest}`);
      expect(appId).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(await idOf(docker, 'registry.example/team/app:1.4')).toBe(appId);
      expect(await idOf(docker, `${registry}/team/multi@${multi.digest}`)).toMatch(/^sha256:/);
      const pulled = pulls();

      const again = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--force', 'install', '--json'], { env });
      expect(again.code, again.stderr).toBe(0);
      expect(events(again).filter((s) => s.step === 'image').map((s) => [s.changed, s.detail])).toEqual([[false, 'unchanged'], [false, 'unchanged']]);
      expect(pulls()).toBe(pulled);

      // by hand: the original name removed (the image stays under its pulled name)
      expect((await docker(['rmi', 'registry.example/team/app:1.4'])).code).toBe(0);
      const requests = server.accessLog.length;
      const drift = await ferry(['plan', rel, '--store', store, '--allow-local', '-i', inv, '--check'], { env });
      expect(drift.code, drift.stderr + drift.stdout).toBe(2);
      expect(drift.stdout).toContain(`runner web configure activate image registry.example/team/app:1.4 (docker): tag: want registry.example/team/app:1.4 at ${app.digest.slice(0, 19)}, host has no registry.example/team/app:1.4\n`);
      expect(server.accessLog.length).toBe(requests);
      expect(await idOf(docker, 'registry.example/team/app:1.4')).toBeUndefined();

      const repaired = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--repair', '--json'], { env });
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(events(repaired).filter((e) => e.step === 'activate image').map((e) => e.detail)).toEqual(['tagged registry.example/team/app:1.4']);
      expect(await idOf(docker, 'registry.example/team/app:1.4')).toBe(appId);
      expect((await ferry(['plan', rel, '--store', store, '--allow-local', '-i', inv, '--check'], { env })).code).toBe(0);

      // removed altogether: pulled again
      expect((await docker(['rmi', '-f', appId!])).code).toBe(0);
      const third = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--force', 'install', '--json'], { env });
      expect(third.code, third.stderr).toBe(0);
      expect(events(third).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual([`pulled ${registry}/team/app@${app.digest}`, 'unchanged']);
      expect(events(third).filter((s) => s.step === 'activate image').map((s) => s.detail)).toEqual(['tagged registry.example/team/app:1.4']);
    });

    it('with --push, loads each image from the staged OCI layout through skopeo under ferry\'s private name, without any registry; a changed staged index is refused', async () => {
      const { env, docker } = await own('dock-push', startDockerd);
      const data = join(dir, 'data-dock-push');
      const inv = await inventory('dock-push', data);
      const before = server.accessLog.length;
      const r = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--push', '--json'], { env });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(events(r).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual(['loaded registry.example/team/app:1.4', 'loaded registry.example/team/multi:2.0']);
      expect(server.accessLog.length).toBe(before);
      // install loaded each under ferry's private name; configure named the one with retag by its reference
      const appId = await idOf(docker, `localhost/ferry-staged:${app.digest.slice(7)}`);
      expect(appId).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(await idOf(docker, 'registry.example/team/app:1.4')).toBe(appId);
      expect(await idOf(docker, `localhost/ferry-staged:${multi.digest.slice(7)}`)).toMatch(/^sha256:/);
      expect(await idOf(docker, 'registry.example/team/multi:2.0')).toBeUndefined();
      // the re-run finds both present through the image IDs the loads gave
      const again = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--push', '--force', 'install', '--json'], { env });
      expect(again.code, again.stderr).toBe(0);
      expect(events(again).filter((s) => s.step === 'image').map((s) => [s.changed, s.detail])).toEqual([[false, 'unchanged'], [false, 'unchanged']]);

      expect((await docker(['rmi', '-f', appId!])).code).toBe(0);
      await tamperStagedIndex(data);
      const tampered = await ferry(['deploy', rel, '--store', store, '--allow-local', '-i', inv, '--push', '--force', 'install'], { env });
      expect(tampered.code).not.toBe(0);
      expect(tampered.stdout + tampered.stderr).toMatch(/staged file .*oci\/index\.json: sha256 [0-9a-f]{64}, the bundle says/);
      expect(await idOf(docker, 'registry.example/team/app:1.4')).toBeUndefined();
    });

    it('with --push, loads the image the signed manifest pins: not what the staged index.json names by its reference, nor a staged manifest changed on the host (docker keeps no digest to check)', async () => {
      const { env, docker } = await own('dock-swapped', startDockerd);
      const inv = await inventory('dock-swapped', join(dir, 'data-dock-swapped'));
      const r = await ferry(['deploy', `swapped@${V}`, '--store', store, '--allow-local', '-i', inv, '--push', '--json'], { env });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      // loaded under ferry's private name (the step has no retag: nothing names it by its reference)
      expect(await idOf(docker, `localhost/ferry-staged:${app.digest.slice(7)}`)).toBe(appConfig);
      expect(await idOf(docker, 'registry.example/team/app:1.4')).toBeUndefined();
      expect((await docker(['images', '-q', '--no-trunc'])).stdout.trim()).toBe(appConfig);

      // the app's staged manifest replaced on the host by the decoy's (whose blobs are staged too): skopeo
      // reads a layout's manifest without checking its digest, and docker keeps none to check afterwards
      expect((await docker(['rmi', '-f', appConfig])).code).toBe(0);
      const [tree] = await readdir(join(dir, 'data-dock-swapped', 'bundles'));
      const staged = join(dir, 'data-dock-swapped', 'bundles', tree!, 'oci', 'blobs', 'sha256', app.digest.slice(7));
      await writeFile(`${staged}.new`, decoyManifest);
      await rename(`${staged}.new`, staged);
      const tampered = await ferry(['deploy', `swapped@${V}`, '--store', store, '--allow-local', '-i', inv, '--push', '--force', 'install'], { env });
      expect(tampered.code, tampered.stderr + tampered.stdout).not.toBe(0);
      expect(tampered.stdout + tampered.stderr).toContain(`staged file ${staged}: sha256 ${sha256Hex(decoyManifest)}, the bundle says ${app.digest.slice(7)}`);
      expect((await docker(['images', '-q'])).stdout.trim()).toBe('');
    });
  });
});

/** Replace the staged OCI layout's index on the host by one that lists nothing. */
async function tamperStagedIndex(data: string): Promise<void> {
  const [tree] = await readdir(join(data, 'bundles'));
  await writeFile(join(data, 'bundles', tree!, 'oci', 'index.json'), '{"schemaVersion":2,"manifests":[]}');
}
