import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry, run, stepEvents as events } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { multiPlatformImage, swapRefNames, umociImage, writeImageBundle, writeImageRelease, type FixtureImage } from '../helpers/ociImages.js';
import { startServer, type TestServer } from '../serve/startServer.js';

const haveTools = (await run('sh', ['-c', 'command -v podman && command -v skopeo && command -v umoci'])).code === 0 && process.getuid?.() === 0;

/** podman with a storage of its own (never the machine's /var/lib/containers, which other work shares). */
async function podmanStorage(dir: string): Promise<{ env: NodeJS.ProcessEnv; podman(args: string[]): ReturnType<typeof run> }> {
  await mkdir(dir, { recursive: true });
  const conf = join(dir, 'storage.conf');
  await writeFile(conf, `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`);
  const env = { CONTAINERS_STORAGE_CONF: conf };
  return { env, podman: (args) => run('podman', args, { env }) };
}

describe.skipIf(!haveTools)('the image deploy step with the real podman (local host)', () => {
  let dir: string;
  let store: string;
  let server: TestServer;
  let app: FixtureImage;
  let multi: FixtureImage;
  let decoy: FixtureImage;

  const inventory = async (name: string, data: string, serverUrl?: string) => {
    const file = join(dir, `${name}.yaml`);
    const vars = { ferry_data_dir: data, ferry_ansible_facts_dir: '', ...(serverUrl ? { ferry_server: serverUrl } : {}) };
    await writeFile(file, JSON.stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars } } }));
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-image-step-'));
    store = join(dir, 'store');
    const team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const appImage = await umociImage(join(dir, 'app'), 'amd64', { 'etc/app.conf': 'app 1.4\n' });
    const m = await multiPlatformImage(join(dir, 'multi'), { 'etc/multi.conf': 'multi\n' });
    const service = (install: unknown[]) => ({ version: '1.4.0', groups: ['web'], artifacts: {}, stage: [], install, configure: [] });
    const install = [
      { image: { ref: 'registry.example/team/app:1.4', runtime: 'podman', retag: true } },
      { image: { ref: 'registry.example/team/multi:2.0', runtime: 'podman' } },
    ];
    [app, multi] = await writeImageBundle(join(dir, 'rel.ferry'), key, [
      { ref: 'registry.example/team/app:1.4', services: ['web'], layout: appImage.layout },
      { ref: 'registry.example/team/multi:2.0', services: ['web'], layout: m.layout },
    ], { name: 'images', version: '1.0.0', services: { web: service(install) } });
    await writeImageBundle(join(dir, 'bad.ferry'), key, [{ ref: 'registry.example/team/app:1.4', services: ['web'], layout: appImage.layout }], {
      name: 'bad',
      version: '1.0.0',
      services: { web: service([{ image: { ref: 'registry.example/team/nope:1', runtime: 'podman' } }, { image: { ref: 'registry.example/team/app:1.4', runtime: 'rkt' } }]) },
    });
    // a layout whose index.json names the app's reference at another image it carries (and the other's
    // reference at the app): what manifest.artifacts.image pins, and the SBOM, diff and plan show, is the app.
    // Import refuses such a bundle (test/images/imageIndexMismatch.test.ts); a store can still hold one an
    // earlier ferry imported, so it is written into the store directly
    const decoyImage = await umociImage(join(dir, 'decoy'), 'amd64', { 'etc/app.conf': 'not the pinned app\n' });
    [, decoy] = await writeImageRelease(
      store,
      [
        { ref: 'registry.example/team/app:1.4', services: ['web'], layout: appImage.layout },
        { ref: 'registry.example/team/decoy:1', services: ['web'], layout: decoyImage.layout },
      ],
      { name: 'swapped', version: '1.0.0', services: { web: service([{ image: { ref: 'registry.example/team/app:1.4', runtime: 'podman', retag: true } }]) } },
      swapRefNames('registry.example/team/app:1.4', 'registry.example/team/decoy:1'),
    );
    for (const b of ['rel.ferry', 'bad.ferry']) {
      const r = await ferry(['import', join(dir, b), '--keyring', team.public, '--store', store]);
      expect(r.code, r.stderr).toBe(0);
    }
    server = await startServer(store);
  });
  afterAll(async () => {
    await server?.close(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('pulls each image by digest from ferry serve at install, retags it to its original name at configure, and finds it present the next time', async () => {
    const { env, podman } = await podmanStorage(join(dir, 'podman-pull'));
    const data = join(dir, 'data-pull');
    const inv = await inventory('pull', data, server.url);
    const first = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--json'], { env });
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const steps = events(first);
    expect(steps.filter((s) => s.step === 'image').map((s) => s.detail)).toEqual([
      expect.stringMatching(new RegExp(`^pulled 127\\.0\\.0\\.1:\\d+/team/app@${app.digest}$`)),
      expect.stringMatching(new RegExp(`^pulled 127\\.0\\.0\\.1:\\d+/team/multi@${multi.digest}$`)),
    ]);
    // the tag moves at configure, inside the batches (the activation of the step with retag)
    expect(steps.filter((s) => s.step === 'activate image').map((s) => s.detail)).toEqual(['tagged registry.example/team/app:1.4']);
    // present at the pinned digests, under the original name too
    expect((await podman(['image', 'exists', `registry.example/team/app@${app.digest}`])).code).toBe(0);
    expect((await podman(['image', 'exists', `registry.example/team/multi@${multi.digest}`])).code).toBe(0);
    const tagged = await podman(['image', 'inspect', '--format', '{{.Digest}}', 'registry.example/team/app:1.4']);
    expect(tagged.stdout.trim()).toBe(app.digest);
    // the registry brought the image blobs: the stage stage did not copy them to the host as well
    expect(existsSync(join(data, 'blobs', 'sha256', app.digest.slice(7)))).toBe(false);
    const pulls = server.accessLog.filter((e) => e.target.startsWith('/v2/team/') && e.status === 200).length;

    const again = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--force', 'install', '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    const rerun = events(again).filter((s) => s.step === 'image');
    expect(rerun.map((s) => [s.changed, s.detail])).toEqual([[false, 'unchanged'], [false, 'unchanged']]);
    expect(server.accessLog.filter((e) => e.target.startsWith('/v2/team/') && e.status === 200).length).toBe(pulls);

    // the original name removed: the image is still there at its digest, so it is only named again (the
    // name is configure's: install finds nothing to do)
    expect((await podman(['untag', 'registry.example/team/app:1.4', 'registry.example/team/app:1.4'])).code).toBe(0);
    const renamed = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--force', 'install', '--force', 'configure', '--json'], { env });
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(events(renamed).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual(['unchanged', 'unchanged']);
    expect(events(renamed).filter((s) => s.step === 'activate image').map((s) => s.detail)).toEqual(['tagged registry.example/team/app:1.4']);
    expect(server.accessLog.filter((e) => e.target.startsWith('/v2/team/') && e.status === 200).length).toBe(pulls);

    // the image removed from the host is pulled again
    const id = (await podman(['image', 'inspect', '--format', '{{.ID}}', 'registry.example/team/app:1.4'])).stdout.trim();
    expect((await podman(['rmi', '-f', id])).code).toBe(0);
    const third = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--force', 'install', '--json'], { env });
    expect(third.code, third.stderr).toBe(0);
    expect(events(third).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual([expect.stringMatching(/^pulled [^ ]*\/team\/app@sha256:[0-9a-f]{64}$/), 'unchanged']);
    expect(events(third).filter((s) => s.step === 'activate image').map((s) => s.detail)).toEqual(['tagged registry.example/team/app:1.4']);
  });

  it('--check reads the image and its tag without pulling or changing anything; --repair pulls or retags only what differs', async () => {
    const { env, podman } = await podmanStorage(join(dir, 'podman-drift'));
    const inv = await inventory('drift', join(dir, 'data-drift'), server.url);
    const deployed = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv], { env });
    expect(deployed.code, deployed.stderr + deployed.stdout).toBe(0);
    const check = (verb: 'plan' | 'deploy') => ferry([verb, 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--check'], { env });
    const clean = await check('plan');
    expect(clean.code, clean.stderr + clean.stdout).toBe(0);
    expect(clean.stdout).toMatch(/^no drift: \d+ steps on 1 host match \(images 1\.0\.0/m);
    expect(clean.stdout).not.toContain('not comparable');

    // by hand: the original name of one image removed, the other image removed
    const short = (d: string) => d.slice(0, 19);
    expect((await podman(['untag', 'registry.example/team/app:1.4', 'registry.example/team/app:1.4'])).code).toBe(0);
    expect((await podman(['rmi', '-f', `registry.example/team/multi@${multi.digest}`])).code).toBe(0);
    const requests = server.accessLog.length;
    const drift = await check('deploy');
    expect(drift.code, drift.stderr).toBe(2);
    expect(drift.stdout).toContain(`runner web configure activate image registry.example/team/app:1.4 (podman): tag: want registry.example/team/app:1.4 at ${short(app.digest)}, host has no registry.example/team/app:1.4\n`);
    expect(drift.stdout).toContain(`runner web install image registry.example/team/multi:2.0 (podman): image: want ${short(multi.digest)}, host has missing\n`);
    // nothing pulled, nothing tagged
    expect(server.accessLog.length).toBe(requests);
    expect((await podman(['image', 'exists', 'registry.example/team/app:1.4'])).code).not.toBe(0);
    expect((await podman(['image', 'exists', `registry.example/team/multi@${multi.digest}`])).code).not.toBe(0);
    expect((await podman(['image', 'exists', `registry.example/team/app@${app.digest}`])).code).toBe(0);

    const repaired = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--repair', '--json'], { env });
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(events(repaired).filter((e) => e.step === 'image').map((e) => e.detail)).toEqual([expect.stringMatching(new RegExp(`^pulled 127\\.0\\.0\\.1:\\d+/team/multi@${multi.digest}$`))]);
    expect(events(repaired).filter((e) => e.step === 'activate image').map((e) => e.detail)).toEqual(['tagged registry.example/team/app:1.4']);
    expect((await podman(['image', 'inspect', '--format', '{{.Digest}}', 'registry.example/team/app:1.4'])).stdout.trim()).toBe(app.digest);
    expect((await check('plan')).code).toBe(0);

    // the original name moved to another image: named with the digest it has now, and moved back by --repair
    expect((await podman(['tag', `registry.example/team/multi@${multi.digest}`, 'registry.example/team/app:1.4'])).code).toBe(0);
    const moved = await check('plan');
    expect(moved.code, moved.stderr).toBe(2);
    expect(moved.stdout).toContain(`tag: want registry.example/team/app:1.4 at ${short(app.digest)}, host has registry.example/team/app:1.4 at ${short(multi.digest)}\n`);
    expect(moved.stdout).toMatch(/^1 of \d+ steps differs on 1 of 1 host/m);
    const back = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--repair', '--json'], { env });
    expect(back.code, back.stderr).toBe(0);
    expect(events(back).filter((e) => e.step === 'activate image').map((e) => e.detail)).toEqual(['tagged registry.example/team/app:1.4']);
    const after = await check('plan');
    expect(after.code, after.stdout).toBe(0);
  });

  it('retag: install pulls by digest and leaves the reference where it is (a unit naming it restarts on what it ran); configure moves it', async () => {
    const { env, podman } = await podmanStorage(join(dir, 'podman-tag-moves'));
    const inv = await inventory('tag-moves', join(dir, 'data-tag-moves'), server.url);
    // what the host ran before: the reference names another image (an earlier release under the same tag)
    const deployed = (args: string[]) => ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--json', ...args], { env });
    expect((await deployed(['--stages', 'stage,install'])).code).toBe(0);
    expect((await podman(['tag', `registry.example/team/multi@${multi.digest}`, 'registry.example/team/app:1.4'])).code).toBe(0);
    const named = async () => (await podman(['image', 'inspect', '--format', '{{.Digest}}', 'registry.example/team/app:1.4'])).stdout.trim();
    expect(await named()).toBe(multi.digest);
    const install = await deployed(['--stages', 'install', '--force', 'install']);
    expect(install.code, install.stderr + install.stdout).toBe(0);
    expect(events(install).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual(['unchanged', 'unchanged']);
    // the image is there at its digest, the reference still names what ran
    expect((await podman(['image', 'exists', `registry.example/team/app@${app.digest}`])).code).toBe(0);
    expect(await named()).toBe(multi.digest);
    const configure = await deployed(['--stages', 'configure']);
    expect(configure.code, configure.stderr + configure.stdout).toBe(0);
    expect(events(configure).filter((s) => s.step === 'activate image').map((s) => s.detail)).toEqual(['tagged registry.example/team/app:1.4']);
    expect(await named()).toBe(app.digest);
  });

  it('retag with --push: install loads the image from the staged layout under a private name and leaves the reference where it is; configure moves it', async () => {
    const { env, podman } = await podmanStorage(join(dir, 'podman-push-tag-moves'));
    const inv = await inventory('push-tag-moves', join(dir, 'data-push-tag-moves'));
    const deployed = (args: string[]) => ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--push', '--json', ...args], { env });
    expect((await deployed(['--stages', 'stage,install'])).code).toBe(0);
    // what the host ran before: the app's image gone, the reference naming another image (an earlier release under the same tag)
    const id = (await podman(['image', 'inspect', '--format', '{{.Id}}', `registry.example/team/app@${app.digest}`])).stdout.trim();
    expect((await podman(['rmi', '-f', id])).code).toBe(0);
    expect((await podman(['tag', `registry.example/team/multi@${multi.digest}`, 'registry.example/team/app:1.4'])).code).toBe(0);
    const named = async () => (await podman(['image', 'inspect', '--format', '{{.Digest}}', 'registry.example/team/app:1.4'])).stdout.trim();
    expect(await named()).toBe(multi.digest);
    const install = await deployed(['--stages', 'install', '--force', 'install']);
    expect(install.code, install.stderr + install.stdout).toBe(0);
    expect(events(install).filter((s) => s.step === 'image').map((s) => s.detail)).toEqual(['loaded registry.example/team/app:1.4', 'unchanged']);
    // the reference still names what ran; the image is there at its digest, under ferry's own name
    expect(await named()).toBe(multi.digest);
    expect((await podman(['image', 'exists', `registry.example/team/app@${app.digest}`])).code).toBe(0);
    expect((await podman(['image', 'inspect', '--format', '{{.Digest}}', `localhost/ferry-staged:${app.digest.slice(7)}`])).stdout.trim()).toBe(app.digest);
    const configure = await deployed(['--stages', 'configure']);
    expect(configure.code, configure.stderr + configure.stdout).toBe(0);
    expect(events(configure).filter((s) => s.step === 'activate image').map((s) => s.detail)).toEqual(['tagged registry.example/team/app:1.4']);
    expect(await named()).toBe(app.digest);
  });

  it('with --push, loads each image from the staged OCI layout (checked on the host), without any registry', async () => {
    const { env, podman } = await podmanStorage(join(dir, 'podman-push'));
    const data = join(dir, 'data-push');
    const inv = await inventory('push', data);
    const before = server.accessLog.length;
    const r = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--push', '--json'], { env });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout + r.stderr).toContain('"detail":"loaded registry.example/team/app:1.4"');
    expect(server.accessLog.length).toBe(before);
    expect((await podman(['image', 'exists', `registry.example/team/app@${app.digest}`])).code).toBe(0);
    expect((await podman(['image', 'exists', `registry.example/team/multi@${multi.digest}`])).code).toBe(0);
    expect((await podman(['image', 'inspect', '--format', '{{.Digest}}', 'registry.example/team/app:1.4'])).stdout.trim()).toBe(app.digest);
    // the loaded images carry their own names, not the staged folder's
    const names = (await podman(['images', '--format', '{{.Repository}}'])).stdout;
    expect(names).not.toContain(data);

    // a staged layout index changed on the host is refused before anything is loaded
    const [tree] = await readdir(join(data, 'bundles'));
    // the image goes under all its names (the reference configure gave it, and the private name of the load)
    const id = (await podman(['image', 'inspect', '--format', '{{.Id}}', `registry.example/team/app@${app.digest}`])).stdout.trim();
    expect((await podman(['rmi', '-f', id])).code).toBe(0);
    expect((await podman(['image', 'exists', `registry.example/team/app@${app.digest}`])).code).toBe(1);
    await writeFile(join(data, 'bundles', tree!, 'oci', 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    const tampered = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv, '--push', '--force', 'install'], { env });
    expect(tampered.code).not.toBe(0);
    expect(tampered.stdout + tampered.stderr).toMatch(/staged file .*oci\/index\.json: sha256 [0-9a-f]{64}, the bundle says/);
  });

  it('with --push, loads the image the signed manifest pins, by its digest, whatever the staged index.json names by that reference', async () => {
    const { env, podman } = await podmanStorage(join(dir, 'podman-swapped'));
    const inv = await inventory('swapped', join(dir, 'data-swapped'));
    const r = await ferry(['deploy', 'swapped@1.0.0', '--store', store, '--allow-local', '-i', inv, '--push', '--json'], { env });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect((await podman(['image', 'inspect', '--format', '{{.Digest}}', 'registry.example/team/app:1.4'])).stdout.trim()).toBe(app.digest);
    expect((await podman(['image', 'exists', `registry.example/team/decoy@${decoy.digest}`])).code).toBe(1);
    expect((await podman(['images', '-q', '--no-trunc'])).stdout.trim().split('\n')).toHaveLength(1);
  });

  it('refuses, before touching any host, a ferry_server whose host would reach podman as an option (exit 65, one line)', async () => {
    const { env, podman } = await podmanStorage(join(dir, 'podman-option'));
    for (const [i, url] of ['http://--creds=x/', 'http://-q/', 'http://--tls-verify=false:8080/'].entries()) {
      const data = join(dir, `data-option-${i}`);
      const inv = await inventory(`option-${i}`, data, url);
      const r = await ferry(['deploy', 'images@1.0.0', '--store', store, '--allow-local', '-i', inv], { env });
      expect(r.code, r.stderr + r.stdout).toBe(65);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/ferry_server must be an http:\/\/ or https:\/\/ URL of ferry serve/);
      // no host was touched: nothing staged, nothing pulled
      expect(existsSync(data)).toBe(false);
    }
    expect((await podman(['images', '-q'])).stdout.trim()).toBe('');
  });

  it('refuses, before touching any host, an image step naming an image the bundle lacks or an unknown runtime', async () => {
    const inv = await inventory('bad', join(dir, 'data-bad'), server.url);
    const r = await ferry(['plan', 'bad@1.0.0', '--store', store, '--allow-local', '-i', inv]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('image registry.example/team/nope:1: the bundle carries no such image (artifacts.image lists registry.example/team/app:1.4)');
    expect(r.stderr).toMatch(/install\[1\]\.image.*runtime/);
  });
});
