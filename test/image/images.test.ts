import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Spec as CdxSpec, Validation } from '@cyclonedx/cyclonedx-library';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FERRY_BIN, ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { digestOf, makeImage, makeIndex, push, registryBlobPath, startGate, startHoldingProxy, startPingGate, startRegistry, startTokenService, type Registry } from './registry.js';

/** A spec whose services carry images; registry.example is fetched from the test's loopback registry. */
async function writeImageSpec(dir: string, file: string, name: string, version: string, registry: Registry, services: string, extra = '', epoch = '2026-11-25T00:00:00Z'): Promise<string> {
  const spec = join(dir, file);
  await writeFile(spec, `name: ${name}\nversion: ${version}\nepoch: ${epoch}\n${extra}upstreams:\n  images:\n    registries:\n      registry.example: { url: "${registry.url}" }\nservices:\n${services}`);
  return spec;
}

const lockOf = async (spec: string) => JSON.parse(await readFile(spec.replace(/\.yaml$/, '.lock.json'), 'utf8'));

describe('container images from a registry', () => {
  let dir: string;
  let registry: Registry;
  let key: Awaited<ReturnType<typeof writeKey>>;
  const digests: Record<string, string> = {};
  /** no login from the machine running the tests */
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-images-${process.pid}-`));
    env = { REGISTRY_AUTH_FILE: join(dir, 'no-auth.json') };
    key = await writeKey(dir, 'team');
    registry = await startRegistry(join(dir, 'registry'));
    const layout = join(dir, 'layout');
    digests.app = await makeImage(layout, 'app', { 'etc/app.conf': 'version 1.4\n', 'srv/data.bin': Buffer.alloc(300_000, 7) });
    digests.amd64 = await makeImage(layout, 'multi-amd64', { 'etc/hostname': 'amd64\n' }, 'amd64');
    digests.arm64 = await makeImage(layout, 'multi-arm64', { 'etc/hostname': 'arm64\n' }, 'arm64');
    digests.multi = await makeIndex(layout, 'multi', [
      { tag: 'multi-amd64', architecture: 'amd64' },
      { tag: 'multi-arm64', architecture: 'arm64', variant: 'v8' },
    ]);
    digests.next = await makeImage(layout, 'next', { 'etc/app.conf': 'version 1.5\n' });
    // its own image: the test changes its layer in the registry's storage
    await makeImage(layout, 'tamper', { 'etc/tampered': 'not yet\n' });
    await push(layout, 'app', registry, 'team/app:1.4');
    await push(layout, 'multi', registry, 'base/multi:2');
    await push(layout, 'next', registry, 'team/app:1.5');
    await push(layout, 'tamper', registry, 'team/tampered:1');
  });

  afterAll(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const twoServices = (appTag = '1.4') =>
    `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:${appTag}" }\n        - { ref: "registry.example/base/multi:2" }\n` +
    `  worker:\n    version: "1"\n    groups: [worker]\n    artifacts:\n      images:\n        - { ref: "registry.example/base/multi:2" }\n        - { ref: "registry.example/base/multi:2", platforms: [linux/amd64] }\n`;

  /** Lock the two services' images through `proxy` (not yet armed), arm it, and build them through it. */
  const buildThrough = async (proxy: { url: string; arm(): void }, name: string) => {
    const spec = await writeImageSpec(dir, `${name}.yaml`, name, '1.0.0', { ...registry, url: proxy.url }, twoServices());
    expect((await ferry(['lock', spec, '--cache', join(dir, `cache-${name}-lock`)], { env })).code).toBe(0);
    proxy.arm();
    return ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, `out-${name}`), '--cache', join(dir, `cache-${name}`)], { env });
  };

  it('ferry lock pins each tag to its manifest digest, reduces a multi-platform index to the target architectures, and records every blob', async () => {
    const spec = await writeImageSpec(dir, 'locking.yaml', 'images', '1.0.0', registry, twoServices(), 'targets:\n  debian: { suite: bookworm, architectures: [amd64] }\n');
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env });
    expect(r.code, r.stderr).toBe(0);
    const lock = await lockOf(spec);
    // sorted by reference
    const [multi, app] = lock.kinds.image.images;
    expect(app).toMatchObject({ ref: 'registry.example/team/app:1.4', source: registry.url, digest: digests.app, mediaType: 'application/vnd.oci.image.manifest.v1+json', platforms: ['linux/amd64'], services: ['web'], manifests: [] });
    // config and one layer, each with digest and size
    expect(app.blobs).toHaveLength(2);
    for (const b of app.blobs) expect(b).toMatchObject({ digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), size: expect.any(Number) });
    // the index as pushed offers amd64 and arm64; only amd64 is carried, so the carried index has its own digest
    expect(multi).toMatchObject({ ref: 'registry.example/base/multi:2', upstream: { digest: digests.multi }, services: ['web', 'worker'] });
    expect(multi.digest).not.toBe(digests.multi);
    expect(multi.manifests).toEqual([expect.objectContaining({ digest: digests.amd64, platform: 'linux/amd64' })]);
    // no credentials anywhere in the lock
    expect(JSON.stringify(lock)).not.toMatch(/auth|password|token/i);
  });

  it('keeps the index as pushed when the image names all its platforms', async () => {
    const spec = await writeImageSpec(dir, 'all.yaml', 'images-all', '1.0.0', registry, `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/base/multi:2", platforms: [linux/amd64, linux/arm64] }\n`);
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env });
    expect(r.code, r.stderr).toBe(0);
    const [multi] = (await lockOf(spec)).kinds.image.images;
    expect(multi.digest).toBe(digests.multi);
    expect(multi.upstream).toBeUndefined();
    expect(multi.manifests.map((m: { digest: string }) => m.digest)).toEqual([digests.amd64, digests.arm64]);
  });

  it('builds byte-identical bundles from the same lock, with one OCI layout that carries each blob once', async () => {
    const spec = join(dir, 'locking.yaml');
    const builds = [];
    for (const n of ['a', 'b']) {
      const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, `twice-${n}`), '--cache', join(dir, `cache-${n}`), '--json'], { env });
      expect(b.code, b.stderr).toBe(0);
      builds.push(JSON.parse(b.stdout) as { bundle: string; digest: string });
    }
    expect((await readFile(builds[0]!.bundle)).equals(await readFile(builds[1]!.bundle))).toBe(true);

    const root = await mkdtemp(join(dir, 'twice-x-'));
    expect((await run('tar', ['-xf', builds[0]!.bundle, '-C', root])).code).toBe(0);
    const oci = join(root, 'oci');
    expect(JSON.parse(await readFile(join(oci, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(join(oci, 'index.json'), 'utf8'));
    const [multi] = (await lockOf(spec)).kinds.image.images;
    expect(index.manifests).toEqual([
      { mediaType: 'application/vnd.oci.image.index.v1+json', digest: multi.digest, size: multi.size, annotations: { 'io.ferry.services': 'web,worker', 'org.opencontainers.image.ref.name': 'registry.example/base/multi:2' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digests.app, size: expect.any(Number), annotations: { 'io.ferry.services': 'web', 'org.opencontainers.image.ref.name': 'registry.example/team/app:1.4' } },
    ]);
    const manifest = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8'));
    expect(manifest.artifacts.image.images).toContainEqual({ ref: 'registry.example/team/app:1.4', registry: 'registry.example', repository: 'team/app', tag: '1.4', digest: digests.app, mediaType: 'application/vnd.oci.image.manifest.v1+json', services: ['web'] });
    // reduced index + amd64 manifest + its config and layer, app manifest + config + layer: no arm64 blob
    const blobs = manifest.entries.filter((e: { path: string }) => e.path.startsWith('oci/blobs/'));
    expect(blobs).toHaveLength(7);
    expect(blobs.map((e: { path: string }) => e.path)).not.toContain(`oci/blobs/sha256/${digests.arm64.slice(7)}`);
    // a real client reads the layout: skopeo copies each image out of it, checking every digest
    for (const ref of ['registry.example/team/app:1.4', 'registry.example/base/multi:2']) {
      const c = await run('skopeo', ['--policy', join(dir, 'skopeo-policy.json'), 'copy', '--all', '--quiet', `oci:${oci}:${ref}`, `oci:${join(dir, 'copied')}:${ref.split('/').pop()}`]);
      expect(c.code, c.stderr).toBe(0);
    }
    const inspected = await run('skopeo', ['inspect', '--raw', `oci:${oci}:registry.example/team/app:1.4`]);
    expect(inspected.code, inspected.stderr).toBe(0);
    // the SBOM names each image by digest, as a CycloneDX 1.6 container component the official schema accepts
    const sbomText = await readFile(join(root, 'sbom.cdx.json'), 'utf8');
    expect(await new Validation.JsonStrictValidator(CdxSpec.Version.v1dot6).validate(sbomText)).toBeNull();
    const sbom = JSON.parse(sbomText);
    const purls = JSON.stringify(sbom);
    expect(purls).toContain(`"purl":"pkg:oci/app@${digests.app}?repository_url=registry.example%2Fteam%2Fapp&tag=1.4"`);
  });

  it('imports the bundle into the store and verifies it', async () => {
    const spec = join(dir, 'locking.yaml');
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-import'), '--cache', join(dir, 'cache'), '--json'], { env });
    expect(b.code, b.stderr).toBe(0);
    const { bundle, digest } = JSON.parse(b.stdout);
    const v = await ferry(['verify', bundle, '--keyring', key.public, '--json']);
    expect(v.code, v.stderr).toBe(0);
    const store = join(dir, 'store');
    const i = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
    expect(i.code, i.stderr).toBe(0);
    // its SBOM describes what the manifest carries: ferry sbom prints it from the file and from the store
    for (const args of [['sbom', bundle, '--keyring', key.public], ['sbom', digest, '--store', store]]) {
      const s = await ferry(args);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toContain('"pkg:oci/app@sha256:');
    }
    const stored = join(store, 'bundles', digest, 'oci');
    const c = await run('skopeo', ['inspect', '--raw', `oci:${stored}:registry.example/team/app:1.4`]);
    expect(c.code, c.stderr).toBe(0);
    expect(`sha256:${(await import('node:crypto')).createHash('sha256').update(c.stdout).digest('hex')}`).toBe(digests.app);
  });

  it('fetches the images of a build at the same time, not one after another', async () => {
    // the proxy holds the first image's downloads until the other image's are asked for
    const proxy = await startHoldingProxy(registry);
    try {
      const b = await buildThrough(proxy, 'together');
      expect(b.code, b.stderr).toBe(0);
      expect(proxy.overlapped).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it("asks for each image repository's authorization at the same time, not one image after another", async () => {
    const gate = await startPingGate(registry);
    try {
      const b = await buildThrough(gate, 'pings');
      expect(b.code, b.stderr).toBe(0);
      expect(gate.overlapped).toBe(true);
    } finally {
      await gate.stop();
    }
  });

  it('reads the signing key while the images download: a key that is no key ends the build with its message while the blobs are on their way (exit 64), no bundle', async () => {
    const proxy = await startGate(registry);
    try {
      const spec = await writeImageSpec(dir, 'keylate.yaml', 'keylate', '1.0.0', { ...registry, url: proxy.url }, twoServices());
      expect((await ferry(['lock', spec, '--cache', join(dir, 'cache-keylate-lock')], { env })).code).toBe(0);
      proxy.hold();
      const notAKey = join(dir, 'not-a-key.asc');
      await writeFile(notAKey, 'not an OpenPGP key\n');
      const out = join(dir, 'out-keylate');
      const child = spawn(process.execPath, [FERRY_BIN, 'build', spec, '--locked', '--key', notAKey, '--out', out, '--cache', join(dir, 'cache-keylate')], { env: { ...process.env, ...env } });
      let stderr = '';
      let heldAtError = -1;
      child.stderr.on('data', (d) => {
        stderr += d;
        // the message is out: how many downloads were waiting at the gate then
        if (heldAtError < 0 && stderr.includes('not an armored OpenPGP secret key')) {
          heldAtError = proxy.held;
          proxy.open();
        }
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, stderr).toBe(64);
      expect(heldAtError).toBeGreaterThan(0);
      expect(await readdir(out).catch(() => [])).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses a key file it cannot read before asking the registry for anything (exit 64)', async () => {
    const proxy = await startGate(registry);
    try {
      const spec = await writeImageSpec(dir, 'keymissing.yaml', 'keymissing', '1.0.0', { ...registry, url: proxy.url }, twoServices());
      expect((await ferry(['lock', spec, '--cache', join(dir, 'cache-keymissing-lock')], { env })).code).toBe(0);
      const requestsBefore = proxy.requests;
      const b = await ferry(['build', spec, '--locked', '--key', join(dir, 'no-such-key.asc'), '--out', join(dir, 'out-keymissing'), '--cache', join(dir, 'cache-keymissing')], { env });
      expect(b.code, b.stderr).toBe(64);
      expect(b.stderr).toContain('cannot read secret key');
      expect(proxy.requests).toBe(requestsBefore);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses a blob that changed in the registry since the lock (exit 67) and writes no bundle', async () => {
    const spec = await writeImageSpec(dir, 'tamper.yaml', 'tamper', '1.0.0', registry, `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/tampered:1" }\n`);
    expect((await ferry(['lock', spec, '--cache', join(dir, 'cache-tamper-lock')], { env })).code).toBe(0);
    const layer = (await lockOf(spec)).kinds.image.images[0].blobs.find((b: { mediaType: string }) => /layer/.test(b.mediaType));
    const file = registryBlobPath(registry, layer.digest);
    const bytes = await readFile(file);
    bytes[bytes.length - 1] ^= 0xff; // same size, other content
    await writeFile(file, bytes);
    const out = join(dir, 'out-tamper');
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache-tamper')], { env });
    expect(b.code, b.stderr).toBe(67);
    expect(b.stderr).toContain(layer.digest.slice(7));
    expect(await readdir(out).catch(() => [])).toEqual([]);
    // nothing of it in the cache either
    expect(await stat(join(dir, 'cache-tamper', 'sha256', layer.digest.slice(7))).catch(() => undefined)).toBeUndefined();
  });

  it('refuses a lock edited to list other manifests than the carried index names, another media type, or a manifest over 4 MiB; no bundle', async () => {
    const spec = await writeImageSpec(dir, 'locklie.yaml', 'locklie', '1.0.0', registry, `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/base/multi:2", platforms: [linux/amd64, linux/arm64] }\n`);
    const cache = join(dir, 'cache-locklie');
    expect((await ferry(['lock', spec, '--cache', cache], { env })).code).toBe(0);
    const lockFile = spec.replace(/\.yaml$/, '.lock.json');
    const honest = await lockOf(spec);
    // the whole index is carried, as served: both platforms' manifests
    expect(honest.kinds.image.images[0].upstream).toBeUndefined();
    expect(honest.kinds.image.images[0].manifests).toHaveLength(2);
    type Image = { mediaType: string; manifests: Array<{ size: number; platform?: string }> };
    const lies: Array<[string, (i: Image) => void, number, RegExp]> = [
      ['one platform dropped', (i) => void i.manifests.pop(), 67, /^ferry: lock: registry\.example\/base\/multi:2 lists 1 manifests, its index names 2 \(sha256:[0-9a-f]{64} is not in both\); run ferry lock again/],
      ['the order changed', (i) => void i.manifests.reverse(), 67, /lists 2 manifests, its index names 2/],
      ['the platforms swapped (they go into the SBOM)', (i) => void ([i.manifests[0]!.platform, i.manifests[1]!.platform] = [i.manifests[1]!.platform, i.manifests[0]!.platform]), 67, /^ferry: lock: registry\.example\/base\/multi:2 gives sha256:[0-9a-f]{64} the platform "linux\/arm64\/v8", its index gives linux\/amd64; run ferry lock again and review the diff$/],
      ['the index called a manifest', (i) => void (i.mediaType = 'application/vnd.oci.image.manifest.v1+json'), 67, /names sha256:[0-9a-f]{64} as application\/vnd\.oci\.image\.manifest\.v1\+json, but it is application\/vnd\.oci\.image\.index\.v1\+json/],
      ['a manifest of 5 MiB', (i) => void (i.manifests[0]!.size = 5 << 20), 65, /manifests\[0\]\.size: Too big/],
    ];
    for (const [what, lie, code, message] of lies) {
      const lock = structuredClone(honest);
      lie(lock.kinds.image.images[0]);
      await writeFile(lockFile, JSON.stringify(lock, null, 2));
      const out = join(dir, `out-locklie-${code}-${lies.findIndex((l) => l[0] === what)}`);
      const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', cache], { env });
      expect(b.code, `${what}: ${b.stderr}`).toBe(code);
      const lines = b.stderr.split('\n').filter((l) => l.startsWith('ferry:'));
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(message);
      expect(await readdir(out).catch(() => []), what).toEqual([]);
    }
    await writeFile(lockFile, JSON.stringify(honest, null, 2));
    const ok = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-locklie-honest'), '--cache', cache], { env });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('packs a blob it downloaded as it was checked, and hashes a cache entry an earlier build left: a damaged one is refused (exit 67)', async () => {
    const spec = join(dir, 'locking.yaml');
    const cache = join(dir, 'cache-damaged');
    const first = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-damaged-1'), '--cache', cache], { env });
    expect(first.code, first.stderr).toBe(0);
    // the app image's big layer, in the cache: same size, other content (a disk that lost a write)
    const layer = (await lockOf(spec)).kinds.image.images.flatMap((i: { blobs: Array<{ digest: string; size: number }> }) => i.blobs).sort((a: { size: number }, b: { size: number }) => b.size - a.size)[0];
    const file = join(cache, 'sha256', layer.digest.slice(7));
    const bytes = await readFile(file);
    bytes[bytes.length >> 1] ^= 0xff;
    await chmod(file, 0o644);
    await writeFile(file, bytes);
    const out = join(dir, 'out-damaged-2');
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', cache], { env });
    expect(b.code, b.stderr).toBe(67);
    expect(b.stderr).toContain(`${file} has sha256`);
    expect(b.stderr).toContain('delete it from the cache');
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('syncs the blobs it downloaded in one pass once all are in the cache, before the build ends', async () => {
    const spec = join(dir, 'locking.yaml');
    const cache = join(dir, 'cache-synced');
    const trace = join(dir, 'synced.strace');
    // strace -y names each file descriptor's file: which cache entries were synced, and when
    const b = await run('strace', ['-f', '-y', '-o', trace, '-e', 'trace=rename,fsync,fdatasync', process.execPath, FERRY_BIN, 'build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-synced'), '--cache', cache], { env });
    expect(b.code, b.stderr).toBe(0);
    const lines = (await readFile(trace, 'utf8')).split('\n');
    const entry = (line: string) => new RegExp(`${cache}/sha256/([0-9a-f]{64})`).exec(line)?.[1];
    const renamed = lines.flatMap((l, at) => (/\brename\(/.test(l) && entry(l.split(', ')[1] ?? '') ? [{ at, hex: entry(l.split(', ')[1]!)! }] : []));
    const synced = lines.flatMap((l, at) => (/\b(fdatasync|fsync)\(\d+</.test(l) && entry(l) ? [{ at, hex: entry(l)! }] : []));
    const stored = await readdir(join(cache, 'sha256'));
    expect(renamed.map((r) => r.hex).sort()).toEqual(stored.sort());
    expect(synced.map((s) => s.hex).sort()).toEqual(stored.sort());
    // one pass after the downloads: no download waited for its own sync
    expect(Math.min(...synced.map((s) => s.at))).toBeGreaterThan(Math.max(...renamed.map((r) => r.at)));
    expect(lines.some((l) => /\b(fdatasync|fsync)\(\d+<[^>]*\/partial\//.test(l))).toBe(false);
  });

  it('a differential bundle over the previous release leaves out the image blobs it already carries', async () => {
    const v1 = await writeImageSpec(dir, 'diff1.yaml', 'rel', '1.0.0', registry, twoServices('1.4'));
    const v2 = await writeImageSpec(dir, 'diff2.yaml', 'rel', '2.0.0', registry, twoServices('1.5'), '', '2026-11-26T00:00:00Z');
    const out = join(dir, 'out-diff');
    expect((await ferry(['lock', v1, '--cache', join(dir, 'cache')], { env })).code).toBe(0);
    const b1 = await ferry(['build', v1, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache'), '--json'], { env });
    expect(b1.code, b1.stderr).toBe(0);
    const b2 = await ferry(['build', v2, '--key', key.secret, '--out', out, '--cache', join(dir, 'cache'), '--since', JSON.parse(b1.stdout).bundle, '--json'], { env });
    expect(b2.code, b2.stderr).toBe(0);
    const lock1 = await lockOf(v1);
    const multi = lock1.kinds.image.images.find((i: { ref: string }) => i.ref.endsWith('multi:2'));
    const m2 = JSON.parse((await run('tar', ['-xOf', JSON.parse(b2.stdout).bundle, 'manifest.json'])).stdout);
    const unchanged = [multi.digest, ...multi.manifests.map((m: { digest: string }) => m.digest), ...multi.blobs.map((m: { digest: string }) => m.digest)].map((d: string) => `oci/blobs/sha256/${d.slice(7)}`);
    expect(m2.omitted).toEqual(expect.arrayContaining(unchanged));
    const carried = (await run('tar', ['-tf', JSON.parse(b2.stdout).bundle])).stdout.split('\n');
    for (const path of unchanged) expect(carried).not.toContain(path);
    expect(carried).toContain(`oci/blobs/sha256/${digests.next.slice(7)}`);
    // imported after the first, it is complete in the store
    const store = join(dir, 'store-diff');
    for (const b of [b1, b2]) expect((await ferry(['import', JSON.parse(b.stdout).bundle, '--keyring', key.public, '--store', store])).code).toBe(0);
    const c = await run('skopeo', ['inspect', '--raw', `oci:${join(store, 'bundles', JSON.parse(b2.stdout).digest, 'oci')}:registry.example/base/multi:2`]);
    expect(c.code, c.stderr).toBe(0);
    // gc of the first release keeps every blob the second still needs
    const gc = await ferry(['gc', '--keep', '1', '--store', store]);
    expect(gc.code, gc.stderr).toBe(0);
    expect(await readdir(join(store, 'bundles'))).toEqual([JSON.parse(b2.stdout).digest]);
    const after = await run('skopeo', ['--policy', join(dir, 'skopeo-policy.json'), 'copy', '--all', '--quiet', `oci:${join(store, 'bundles', JSON.parse(b2.stdout).digest, 'oci')}:registry.example/base/multi:2`, `oci:${join(dir, 'after-gc')}:multi`]);
    expect(after.code, after.stderr).toBe(0);
    // ferry diff names the image that changed
    const d = await ferry(['diff', JSON.parse(b1.stdout).bundle, JSON.parse(b2.stdout).bundle, '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).sections.images.changed).toEqual([{ name: 'registry.example/team/app', from: '1.4@' + digests.app.slice(7, 19), to: '1.5@' + digests.next.slice(7, 19) }]);
  });

  it('refuses a short image name that does not say its registry (exit 65)', async () => {
    const spec = await writeImageSpec(dir, 'short.yaml', 'short', '1.0.0', registry, `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "nginx:1.25" }\n`);
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env });
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('does not name its registry');
  });

  it('refuses two registries\' images under one repository and tag, which ferry serve would answer as one (exit 65)', async () => {
    const spec = await writeImageSpec(dir, 'twice.yaml', 'twice', '1.0.0', registry, `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:1.4" }\n  db:\n    version: "1"\n    groups: [db]\n    artifacts:\n      images:\n        - { ref: "mirror.example:5000/team/app:1.4", from: "oci:layout:app" }\n`);
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env });
    expect(r.code).toBe(65);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/services\.web\.artifacts\.images\[0\]: registry\.example\/team\/app:1\.4 and mirror\.example:5000\/team\/app:1\.4 \(services\.db\.artifacts\.images\[0\]\) would both be served as team\/app:1\.4/);
  });

  it('reads an image from an OCI layout folder, with the same digests as from the registry', async () => {
    const spec = await writeImageSpec(dir, 'layout.yaml', 'from-layout', '1.0.0', registry, `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:1.4", from: "oci:layout:app" }\n`);
    expect((await ferry(['lock', spec, '--cache', join(dir, 'cache-layout')], { env })).code).toBe(0);
    const [app] = (await lockOf(spec)).kinds.image.images;
    expect(app).toMatchObject({ source: 'oci:layout:app', digest: digests.app });
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-layout'), '--cache', join(dir, 'cache-layout')], { env });
    expect(b.code, b.stderr).toBe(0);
    expect(await digestOf(join(dir, 'layout'), 'app')).toBe(digests.app);
  });

  it('reads an image from a docker save archive, making its OCI manifest the same way each time', async () => {
    const archive = join(dir, 'app.tar');
    const c = await run('skopeo', ['--policy', join(dir, 'skopeo-policy.json'), 'copy', '--quiet', `oci:${join(dir, 'layout')}:app`, `docker-archive:${archive}:registry.example/team/app:1.4`]);
    expect(c.code, c.stderr).toBe(0);
    const spec = await writeImageSpec(dir, 'archive.yaml', 'from-archive', '1.0.0', registry, `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:1.4", from: "docker-archive:app.tar" }\n`);
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache-archive')], { env });
    expect(l.code, l.stderr).toBe(0);
    const [app] = (await lockOf(spec)).kinds.image.images;
    expect(app).toMatchObject({ source: 'docker-archive:app.tar', mediaType: 'application/vnd.oci.image.manifest.v1+json', manifests: [] });
    const builds = [];
    for (const n of ['a', 'b']) {
      const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, `archive-${n}`), '--cache', join(dir, `cache-archive-${n}`), '--json'], { env });
      expect(b.code, b.stderr).toBe(0);
      builds.push(JSON.parse(b.stdout).bundle as string);
    }
    expect((await readFile(builds[0]!)).equals(await readFile(builds[1]!))).toBe(true);
    const root = await mkdtemp(join(dir, 'archive-x-'));
    expect((await run('tar', ['-xf', builds[0]!, '-C', root])).code).toBe(0);
    // skopeo reads the image out of the bundle with every digest checked, and finds the same files
    const out = join(dir, 'archive-copied');
    const copied = await run('skopeo', ['--policy', join(dir, 'skopeo-policy.json'), 'copy', '--quiet', `oci:${join(root, 'oci')}:registry.example/team/app:1.4`, `oci:${out}:app`]);
    expect(copied.code, copied.stderr).toBe(0);
    const unpacked = join(dir, 'archive-unpacked');
    const u = await run('umoci', ['unpack', '--rootless', '--image', `${out}:app`, unpacked]);
    expect(u.code, u.stderr).toBe(0);
    expect(await readFile(join(unpacked, 'rootfs/etc/app.conf'), 'utf8')).toBe('version 1.4\n');
  });
});

describe('a registry that requires a login', () => {
  let dir: string;
  let registry: Registry;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-images-auth-${process.pid}-`));
    registry = await startRegistry(join(dir, 'registry'), { htpasswd: ['builder', 's3cret-pass'] });
    await makeImage(join(dir, 'layout'), 'app', { 'etc/app.conf': 'private\n' });
    await push(join(dir, 'layout'), 'app', registry, 'team/private:1', ['builder', 's3cret-pass']);
  });
  afterAll(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('pulls with the login from $REGISTRY_AUTH_FILE, says how to log in without one, and writes the login nowhere', async () => {
    const spec = await writeImageSpec(dir, 'private.yaml', 'private', '1.0.0', registry, `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/private:1" }\n`);
    const none = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env: { REGISTRY_AUTH_FILE: join(dir, 'missing.json') } });
    expect(none.code).toBe(69);
    expect(none.stderr).toContain('refuses anonymous pulls');
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { 'registry.example': { auth: Buffer.from('builder:s3cret-pass').toString('base64') } } }));
    const env = { REGISTRY_AUTH_FILE: authFile };
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env });
    expect(r.code, r.stderr).toBe(0);
    const key = await writeKey(dir, 'team');
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache-build'), '--json'], { env });
    expect(b.code, b.stderr).toBe(0);
    const bundle = await readFile(JSON.parse(b.stdout).bundle);
    const lock = await readFile(spec.replace(/\.yaml$/, '.lock.json'));
    for (const bytes of [bundle, lock]) {
      expect(bytes.includes('s3cret-pass')).toBe(false);
      expect(bytes.includes(Buffer.from('builder:s3cret-pass').toString('base64'))).toBe(false);
    }
  });
});

describe('a registry that hands out bearer tokens', () => {
  let dir: string;
  let registry: Registry;
  let tokens: Awaited<ReturnType<typeof startTokenService>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-images-token-${process.pid}-`));
    const key = join(dir, 'token.key');
    const cert = join(dir, 'token.crt');
    const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=ferry-test-token']);
    if (made.code !== 0) throw new Error(made.stderr);
    tokens = await startTokenService({ keyPem: await readFile(key, 'utf8'), certPem: await readFile(cert, 'utf8'), service: 'ferry-test', issuer: 'ferry-test-issuer', login: ['builder', 't0ken-pass'] });
    registry = await startRegistry(join(dir, 'registry'), { token: { realm: tokens.realm, service: 'ferry-test', issuer: 'ferry-test-issuer', rootcertbundle: cert } });
    await makeImage(join(dir, 'layout'), 'app', { 'etc/app.conf': 'tokens\n' });
    await push(join(dir, 'layout'), 'app', registry, 'team/private:1', ['builder', 't0ken-pass']);
  });
  afterAll(async () => {
    await registry?.stop();
    await tokens?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('asks the realm for a pull token for the repository with the login, and builds with it', async () => {
    const spec = await writeImageSpec(dir, 'token.yaml', 'token', '1.0.0', registry, `  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/private:1" }\n`);
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { 'registry.example': { username: 'builder', password: 't0ken-pass' } } }));
    const env = { REGISTRY_AUTH_FILE: authFile };
    tokens.requests.length = 0;
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(tokens.requests).toEqual(['?service=ferry-test&scope=repository%3Ateam%2Fprivate%3Apull']);
    const key = await writeKey(dir, 'team');
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache-build')], { env });
    expect(b.code, b.stderr).toBe(0);
    // a wrong login: the token service refuses it, and ferry says how to log in
    await writeFile(authFile, JSON.stringify({ auths: { 'registry.example': { username: 'builder', password: 'wrong' } } }));
    const refused = await ferry(['lock', spec, '--cache', join(dir, 'cache')], { env });
    expect(refused.code).toBe(69);
    expect(refused.stderr).toContain('log in');
  });
});
