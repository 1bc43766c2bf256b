import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry, run, stepEvents as events } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { multiPlatformImage, umociImage, writeImageBundle, type FixtureImage } from '../helpers/ociImages.js';
import { startServer, type TestServer } from '../serve/startServer.js';

const haveTools = (await run('sh', ['-c', 'command -v containerd && command -v ctr && command -v umoci'])).code === 0 && process.getuid?.() === 0;

/**
 * A containerd of the test's own (its root, state and socket in DIR; the CRI plugin off), never the
 * machine's. ctr and the image step's ctr find it through CONTAINERD_ADDRESS; the native snapshotter
 * unpacks without overlay mounts.
 */
async function startContainerd(dir: string): Promise<{ env: NodeJS.ProcessEnv; ctr(args: string[]): ReturnType<typeof run>; stop(): Promise<void> }> {
  const address = join(dir, 'c.sock');
  const config = join(dir, 'config.toml');
  await writeFile(config, [`version = 2`, `root = "${dir}/root"`, `state = "${dir}/state"`, `disabled_plugins = ["io.containerd.grpc.v1.cri"]`, `[grpc]`, `  address = "${address}"`, ''].join('\n'));
  const daemon: ChildProcess = spawn('containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  const env = { CONTAINERD_ADDRESS: address, CONTAINERD_SNAPSHOTTER: 'native' };
  const ctr = (args: string[]) => run('ctr', ['-n', 'k8s.io', ...args], { env });
  // ready when it answers; bounded by the daemon itself: a daemon that exits fails the wait
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`containerd exited: ${log}`);
    if ((await run('ctr', ['version'], { env })).code === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    env,
    ctr,
    async stop() {
      daemon.kill('SIGTERM');
      await exited;
    },
  };
}

describe.skipIf(!haveTools)('the image deploy step with the real containerd (local host, a private daemon)', () => {
  let dir: string;
  let store: string;
  let server: TestServer;
  let app: FixtureImage;
  let multi: FixtureImage;
  const daemons: Array<{ stop(): Promise<void> }> = [];

  const inventory = async (name: string, data: string, serverUrl?: string) => {
    const file = join(dir, `${name}.yaml`);
    const vars = { ferry_data_dir: data, ferry_ansible_facts_dir: '', ...(serverUrl ? { ferry_server: serverUrl } : {}) };
    await writeFile(file, JSON.stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars } } }));
    return file;
  };
  const containerd = async (name: string) => {
    const d = await startContainerd(await mkdtemp(join(dir, `${name}-`)));
    daemons.push(d);
    return d;
  };
  /** name -> digest of the images containerd has in the k8s.io namespace */
  const images = async (ctr: (args: string[]) => ReturnType<typeof run>) => {
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

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-ctrd-'));
    store = join(dir, 'store');
    const team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const appImage = await umociImage(join(dir, 'app'), 'amd64', { 'etc/app.conf': 'app 1.4\n' });
    const m = await multiPlatformImage(join(dir, 'multi'), { 'etc/multi.conf': 'multi\n' });
    const install = [
      { image: { ref: 'registry.example/team/app:1.4', runtime: 'containerd', retag: true } },
      { image: { ref: 'registry.example/team/multi:2.0', runtime: 'containerd' } },
    ];
    [app, multi] = await writeImageBundle(
      join(dir, 'rel.ferry'),
      key,
      [
        { ref: 'registry.example/team/app:1.4', services: ['web'], layout: appImage.layout },
        { ref: 'registry.example/team/multi:2.0', services: ['web'], layout: m.layout },
      ],
      { name: 'images', version: '1.0.0', services: { web: { version: '1.4.0', groups: ['web'], artifacts: {}, stage: [], install, configure: [] } } },
    );
    const r = await ferry(['import', join(dir, 'rel.ferry'), '--keyring', team.public, '--store', store]);
    expect(r.code, r.stderr).toBe(0);
    server = await startServer(store);
  });
  afterAll(async () => {
    for (const d of daemons) await d.stop();
    await server?.close(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('pulls each image by digest from ferry serve over plain HTTP, retags it, finds it present the next time, and --check/--repair see and fix a lost tag', async () => {
    const { env, ctr } = await containerd('pull');
    const inv = await inventory('pull', join(dir, 'data-pull'), server.url);
    const first = await ferry(['deploy', 'images@1.0.0', '--store', store, '-i', inv, '--json'], { env });
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(events(first).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual([
      expect.stringMatching(new RegExp(`^pulled 127\\.0\\.0\\.1:\\d+/team/app@${app.digest}, tagged registry\\.example/team/app:1\\.4$`)),
      expect.stringMatching(new RegExp(`^pulled 127\\.0\\.0\\.1:\\d+/team/multi@${multi.digest}$`)),
    ]);
    const had = await images(ctr);
    expect(had.get('registry.example/team/app:1.4')).toBe(app.digest);
    expect([...had.values()]).toContain(multi.digest);
    const pulls = server.accessLog.filter((e) => e.target.startsWith('/v2/team/') && e.status === 200).length;

    const again = await ferry(['deploy', 'images@1.0.0', '--store', store, '-i', inv, '--force', 'install', '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(events(again).filter((s) => s.step === 'image').map((s) => [s.changed, s.detail])).toEqual([[false, 'unchanged'], [false, 'unchanged']]);
    expect(server.accessLog.filter((e) => e.target.startsWith('/v2/team/') && e.status === 200).length).toBe(pulls);

    // by hand: the original name removed; --check names it and changes nothing
    expect((await ctr(['images', 'rm', 'registry.example/team/app:1.4'])).code).toBe(0);
    const requests = server.accessLog.length;
    const drift = await ferry(['plan', 'images@1.0.0', '--store', store, '-i', inv, '--check'], { env });
    expect(drift.code, drift.stderr + drift.stdout).toBe(2);
    expect(drift.stdout).toContain(`runner web install image registry.example/team/app:1.4 (containerd): tag: want registry.example/team/app:1.4 at ${app.digest.slice(0, 19)}, host has no registry.example/team/app:1.4\n`);
    expect(server.accessLog.length).toBe(requests);
    expect((await images(ctr)).has('registry.example/team/app:1.4')).toBe(false);

    const repaired = await ferry(['deploy', 'images@1.0.0', '--store', store, '-i', inv, '--repair', '--json'], { env });
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(events(repaired).filter((e) => e.step === 'image').map((e) => e.detail)).toEqual(['tagged registry.example/team/app:1.4']);
    expect((await images(ctr)).get('registry.example/team/app:1.4')).toBe(app.digest);
    expect((await ferry(['plan', 'images@1.0.0', '--store', store, '-i', inv, '--check'], { env })).code).toBe(0);
  });

  it('with --push, imports each image from the staged OCI layout under its own name, without any registry; a changed staged index is refused', async () => {
    const { env, ctr } = await containerd('push');
    const data = join(dir, 'data-push');
    const inv = await inventory('push', data);
    const before = server.accessLog.length;
    const r = await ferry(['deploy', 'images@1.0.0', '--store', store, '-i', inv, '--push', '--json'], { env });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(events(r).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual(['loaded registry.example/team/app:1.4', 'loaded registry.example/team/multi:2.0']);
    expect(server.accessLog.length).toBe(before);
    const had = await images(ctr);
    expect(had.get('registry.example/team/app:1.4')).toBe(app.digest);
    expect(had.get('registry.example/team/multi:2.0')).toBe(multi.digest);
    // nothing named after the staged folder
    expect([...had.keys()].filter((n) => n.includes(data))).toEqual([]);

    const [tree] = await readdir(join(data, 'bundles'));
    // the image gone from the host (under every name containerd keeps for it), so it has to be loaded again
    const names = [...(await images(ctr))].filter(([, d]) => d === app.digest).map(([n]) => n);
    expect((await ctr(['images', 'rm', ...names])).code).toBe(0);
    await writeFile(join(data, 'bundles', tree!, 'oci', 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    const tampered = await ferry(['deploy', 'images@1.0.0', '--store', store, '-i', inv, '--push', '--force', 'install'], { env });
    expect(tampered.code).not.toBe(0);
    expect(tampered.stdout + tampered.stderr).toMatch(/staged file .*oci\/index\.json: sha256 [0-9a-f]{64}, the bundle says/);
    expect((await images(ctr)).has('registry.example/team/app:1.4')).toBe(false);
  });
});
