import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { craftTar } from '../helpers/craft.js';
import { snapshotTree } from '../helpers/tree.js';
import { fixtureUpstream, writeAptSpec } from './aptSetup.js';
import { spawnServe } from '../serve/spawnServe.js';
import { readPrivate, signRelease } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';

describe('ferry lock, build --locked, import, then apt-get from the imported bundle', () => {
  let fx: Awaited<ReturnType<typeof fixtureUpstream>>;
  let spec: string;
  let bundle: string;
  beforeAll(async () => {
    fx = await fixtureUpstream();
    spec = await writeAptSpec(fx.dir, fx.server.url);
    const lock = await ferry(['lock', spec, '--cache', join(fx.dir, 'cache')]);
    expect(lock.code, lock.stderr).toBe(0);
    const build = await ferry(['build', spec, '--locked', '--key', fx.bundleKey.secret, '--out', join(fx.dir, 'out'), '--cache', join(fx.dir, 'cache')]);
    expect(build.code, build.stderr).toBe(0);
    bundle = join(fx.dir, 'out/aptdemo-1.0.0.ferry');
  });
  afterAll(() => fx?.server.close());

  it('locks every .deb with its URL, size and sha256', async () => {
    const lock = JSON.parse(await readFile(join(fx.dir, 'aptdemo.lock.json'), 'utf8'));
    const pkgs = lock.kinds.apt.packages as Array<{ name: string; sha256: string; url: string; services: string[] }>;
    expect(pkgs.map((p) => p.name)).toEqual(['app', 'basefiles', 'bighttpd', 'libbar', 'libfoo', 'newmail', 'prelib', 'pyish']);
    for (const p of pkgs) expect(p).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), services: ['web'] });
  });

  it('builds byte-identical bundles from the same lock with a fresh cache, and downloads nothing with a warm one', async () => {
    const again = await ferry(['build', spec, '--locked', '--key', fx.bundleKey.secret, '--out', join(fx.dir, 'out2'), '--cache', join(fx.dir, 'cache2')]);
    expect(again.code, again.stderr).toBe(0);
    expect((await readFile(join(fx.dir, 'out2/aptdemo-1.0.0.ferry'))).equals(await readFile(bundle))).toBe(true);
    const before = fx.server.requests.length;
    const warm = await ferry(['build', spec, '--locked', '--key', fx.bundleKey.secret, '--out', join(fx.dir, 'out3'), '--cache', join(fx.dir, 'cache2')]);
    expect(warm.code, warm.stderr).toBe(0);
    expect(fx.server.requests.length).toBe(before);
  });

  it('refuses to pack a cached .deb whose bytes no longer match the lock (same size, other content), writing no bundle', async () => {
    const lock = JSON.parse(await readFile(join(fx.dir, 'aptdemo.lock.json'), 'utf8'));
    const app = (lock.kinds.apt.packages as Array<{ name: string; sha256: string }>).find((p) => p.name === 'app')!;
    const damaged = join(fx.dir, 'cache-damaged');
    expect((await run('cp', ['-r', join(fx.dir, 'cache'), damaged])).code).toBe(0);
    const file = join(damaged, 'sha256', app.sha256);
    const bytes = await readFile(file);
    bytes[bytes.length - 1] ^= 0xff;
    await chmod(file, 0o644);
    await writeFile(file, bytes);
    const out = join(fx.dir, 'out-damaged');
    const r = await ferry(['build', spec, '--locked', '--key', fx.bundleKey.secret, '--out', out, '--cache', damaged]);
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr).toContain(`but the manifest records ${app.sha256}`);
    expect((await run('ls', ['-A', out])).stdout.trim()).toBe('');
  });

  it('imports, and apt-get trusting keys/bundle.asc installs the closure from `ferry serve`', async () => {
    const store = join(fx.dir, 'store');
    const imp = await ferry(['import', bundle, '--keyring', fx.bundleKey.public, '--store', store, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    const digest = JSON.parse(imp.stdout).digest as string;
    const serve = await spawnServe(['--store', store, '--listen', '127.0.0.1:0']);
    try {
      const key = join(store, 'bundles', digest, 'keys/bundle.asc');
      const apt = await privateApt(`deb [signed-by=${key}] ${serve.url}/bundles/${digest}/apt bookworm main`);
      const update = await apt.aptGet('update');
      expect(update.code, update.stderr).toBe(0);
      expect(update.stderr).not.toMatch(/^[WE]:/m);
      const dl = await apt.aptGet('install', '-y', '--download-only', '--no-install-recommends', 'app');
      expect(dl.code, dl.stderr).toBe(0);
      expect((await apt.downloaded()).map((f) => f.split('_')[0])).toEqual(['app', 'basefiles', 'bighttpd', 'libbar', 'libfoo', 'newmail', 'prelib', 'pyish']);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('ferry import refuses a bundle whose InRelease was re-signed by another key, and stores nothing', async () => {
    const x = join(fx.dir, 'resign');
    await mkdir(x, { recursive: true });
    const list = await run('tar', ['-tf', bundle]);
    expect((await run('tar', ['-xf', bundle, '-C', x])).code).toBe(0);
    const dist = join(x, 'apt/dists/bookworm');
    await signRelease(dist, await readFile(join(dist, 'Release'), 'utf8'), await readPrivate(fx.otherKey.secretArmored));
    const entries = [];
    for (const path of list.stdout.trim().split('\n')) entries.push({ path, data: await readFile(join(x, path)) });
    const bad = join(fx.dir, 'out/resigned.ferry');
    await writeFile(bad, craftTar(entries));
    const store = join(fx.dir, 'store-resigned');
    const r = await ferry(['import', bad, '--keyring', fx.bundleKey.public, '--store', store]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/apt\/dists\/bookworm\/(InRelease|Release\.gpg)/);
    expect(await snapshotTree(join(store, 'bundles'))).toEqual({});
  });

  it('ferry import refuses a bundle whose Packages index was tampered with, and stores nothing', async () => {
    const bytes = await readFile(bundle);
    const at = bytes.indexOf('Package: libbar');
    expect(at).toBeGreaterThan(0);
    bytes[at + 9] = 'X'.charCodeAt(0);
    const bad = join(fx.dir, 'out/tampered.ferry');
    await writeFile(bad, bytes);
    const store = join(fx.dir, 'store-tampered');
    const r = await ferry(['import', bad, '--keyring', fx.bundleKey.public, '--store', store]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/apt\/dists\/bookworm\/main\/binary-amd64\/Packages/);
    const left = await snapshotTree(join(store, 'bundles'));
    expect(left).toEqual({});
    expect(await readdir(join(store, 'refs')).catch(() => [])).toEqual([]);
  });
});
