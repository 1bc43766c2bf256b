import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { aptMirrorSpec, gcKeepingOne, statusAndBody } from './mirrorChecks.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, writeUpstream, type FixtureDeb } from '../apt/fixtureUpstream.js';
import { privateApt } from '../apt/privateApt.js';
import { spawnServe, type ServeProcess } from '../serve/spawnServe.js';
import { freePort, runNginx } from '../serve/runNginx.js';

/** A small upstream: a package with dependencies, one selected by section, one by priority, and packages the filter leaves out. */
const UPSTREAM: FixtureDeb[] = [
  { name: 'app', version: '1.0-1', depends: 'libfoo (>= 1.2), httpd' },
  { name: 'libfoo', version: '1.1-1' },
  { name: 'libfoo', version: '1.3-1' },
  { name: 'webd', version: '2.0', provides: 'httpd', section: 'httpd' },
  { name: 'netcat', version: '1.0', section: 'net' },
  { name: 'basefiles', version: '12.4', priority: 'required', essential: true },
  { name: 'unrelated', version: '9.9', section: 'games' },
  { name: 'other-lib', version: '1.0', section: 'libs' },
];

describe('apt mirror: lock, build, refresh by differential bundles, import, serve, switch, gc', () => {
  let dir: string;
  let upstream: Awaited<ReturnType<typeof serveDir>>;
  let upstreamKey: Awaited<ReturnType<typeof writeKey>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  let debs: string[];
  let serve: ServeProcess | undefined;
  const store = () => join(dir, 'store');
  const cache = () => join(dir, 'cache');

  const writeSpec = (version: string) =>
    writeFile(join(dir, 'mirror.yaml'), aptMirrorSpec(version, upstream.url, '{ packages: ["ap?"], sections: [net], priorities: [required], with_dependencies: true }'));
  const lockAndBuild = async (version: string, since?: string) => {
    await writeSpec(version);
    const lock = await ferry(['lock', join(dir, 'mirror.yaml'), '--cache', cache()]);
    expect(lock.code, lock.stderr).toBe(0);
    const out = join(dir, 'out');
    const build = await ferry(['build', join(dir, 'mirror.yaml'), '--locked', '--key', bundleKey.secret, '--out', out, '--cache', cache(), '--json', ...(since ? ['--since', since] : [])]);
    expect(build.code, build.stderr).toBe(0);
    return { bundle: join(out, `site-mirror-${version}.ferry`), result: JSON.parse(build.stdout) };
  };
  /** the entries a bundle file carries, as tar lists them */
  const carriedBy = async (bundle: string) => (await run('tar', ['-tf', bundle])).stdout.trim().split('\n');
  const importBundle = async (bundle: string) => {
    const r = await ferry(['import', bundle, '--keyring', bundleKey.public, '--store', store(), '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout).digest as string;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-${process.pid}-`));
    // nginx's workers (www-data) read the store
    await chmod(dir, 0o755);
    debs = [];
    for (const d of UPSTREAM) debs.push(await buildDeb(dir, d));
    upstreamKey = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    await writeUpstream(join(dir, 'upstream'), debs, { suite: 'fixture', key: await readPrivate(upstreamKey.secretArmored) });
    upstream = await serveDir(join(dir, 'upstream'));
  });
  afterAll(async () => {
    if (serve) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    await upstream?.close();
  });

  let v1: { bundle: string };
  let digest1: string;

  it('locks the filtered selection with its dependencies, newest version only', async () => {
    v1 = await lockAndBuild('1.0.0');
    const lock = JSON.parse(await readFile(join(dir, 'mirror.lock.json'), 'utf8'));
    const pkgs = lock.kinds.mirror.apt.debian.packages as Array<{ name: string; version: string; suite: string; sha256: string }>;
    expect(pkgs.map((p) => `${p.name} ${p.version}`)).toEqual(['app 1.0-1', 'basefiles 12.4', 'libfoo 1.3-1', 'netcat 1.0', 'webd 2.0']);
    expect(new Set(pkgs.map((p) => p.suite))).toEqual(new Set(['fixture']));
    expect(lock.kinds.mirror.apt.debian.sources[0].signers).toEqual([upstreamKey.fingerprint]);
  });

  it('refuses an upstream signed by a key the mirror does not trust', async () => {
    await writeFile(join(dir, 'upstream.asc'), bundleKey.publicArmored);
    try {
      await writeSpec('1.0.0');
      const lock = await ferry(['lock', join(dir, 'mirror.yaml'), '--cache', join(dir, 'cache-untrusted')]);
      expect(lock.code).not.toBe(0);
      expect(lock.stderr).toMatch(/InRelease/);
    } finally {
      await writeFile(join(dir, 'upstream.asc'), upstreamKey.publicArmored);
    }
  });

  it('builds the same bytes from the same lock', async () => {
    const again = await ferry(['build', join(dir, 'mirror.yaml'), '--locked', '--key', bundleKey.secret, '--out', join(dir, 'out-again'), '--cache', join(dir, 'cache-again')]);
    expect(again.code, again.stderr).toBe(0);
    expect((await readFile(join(dir, 'out-again/site-mirror-1.0.0.ferry'))).equals(await readFile(v1.bundle))).toBe(true);
  });

  it('its SBOM lists each mirrored .deb where the bundle carries it (mirrors/NAME/debian/pool/), and ferry sbom prints it', async () => {
    const carried = new Set(await carriedBy(v1.bundle));
    const r = await ferry(['sbom', v1.bundle, '--keyring', bundleKey.public]);
    expect(r.code, r.stderr).toBe(0);
    const debComponents = (JSON.parse(r.stdout) as { components: Array<{ purl?: string; properties?: Array<{ name: string; value: string }> }> }).components.filter((c) => c.purl?.startsWith('pkg:deb/'));
    const paths = debComponents.map((c) => c.properties!.find((p) => p.name === 'ferry:path')!.value);
    expect(paths.length).toBe(5);
    for (const path of paths) {
      expect(path).toMatch(/^mirrors\/debian\/debian\/pool\/.*\.deb$/);
      expect(carried.has(path), path).toBe(true);
    }
  });

  it('refuses to pack a cached .deb whose bytes no longer match the signed index (same size, other content)', async () => {
    const lock = JSON.parse(await readFile(join(dir, 'mirror.lock.json'), 'utf8'));
    const app = (lock.kinds.mirror.apt.debian.packages as Array<{ name: string; sha256: string }>).find((p) => p.name === 'app')!;
    const damaged = join(dir, 'cache-damaged');
    expect((await run('cp', ['-r', cache(), damaged])).code).toBe(0);
    const file = join(damaged, 'sha256', app.sha256);
    const bytes = await readFile(file);
    bytes[bytes.length - 1] ^= 0xff;
    await chmod(file, 0o644);
    await writeFile(file, bytes);
    const out = join(dir, 'out-damaged');
    const r = await ferry(['build', join(dir, 'mirror.yaml'), '--locked', '--key', bundleKey.secret, '--out', out, '--cache', damaged]);
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr).toContain(app.sha256);
    expect((await run('ls', ['-A', out])).stdout.trim()).toBe('');
  });

  it('imports and serves the mirror at /mirrors/NAME/, and the real apt-get installs from it with signatures on', async () => {
    digest1 = await importBundle(v1.bundle);
    serve = await spawnServe(['--store', store(), '--listen', '127.0.0.1:0']);
    const key = await fetch(`${serve.url}/mirrors/debian/keys/bundle.asc`);
    expect(key.status).toBe(200);
    await writeFile(join(dir, 'mirror-key.asc'), await key.text());
    const apt = await privateApt(`deb [signed-by=${join(dir, 'mirror-key.asc')}] ${serve.url}/mirrors/debian/debian fixture main`);
    const update = await apt.aptGet('update');
    expect(update.code, update.stderr).toBe(0);
    expect(update.stderr).not.toMatch(/^[WE]:/m);
    const dl = await apt.aptGet('install', '-y', '--download-only', 'app', 'netcat');
    expect(dl.code, dl.stderr).toBe(0);
    expect(await apt.downloaded()).toEqual(['app_1.0-1_amd64.deb', 'libfoo_1.3-1_amd64.deb', 'netcat_1.0_amd64.deb', 'webd_2.0_amd64.deb']);
    // what the filter left out is not there
    const missing = await apt.aptGet('install', '-y', '--download-only', 'unrelated');
    expect(missing.code).not.toBe(0);
  });

  let v2: { bundle: string; result: { base: { version: string } } };
  let digest2: string;
  it('a refresh after an upstream security update carries only the new file and the new indexes', async () => {
    debs.push(await buildDeb(dir, { name: 'libfoo', version: '1.3-1+deb12u1' }));
    await writeUpstream(join(dir, 'upstream'), debs, { suite: 'fixture', key: await readPrivate(upstreamKey.secretArmored) });
    v2 = await lockAndBuild('2.0.0', v1.bundle);
    expect(v2.result.base.version).toBe('1.0.0');
    const carried = await carriedBy(v2.bundle);
    expect(carried.filter((p) => p.endsWith('.deb'))).toEqual(['mirrors/debian/debian/pool/main/libf/libfoo/libfoo_1.3-1+deb12u1_amd64.deb']);
    expect(carried.filter((p) => !p.endsWith('.deb')).sort()).toEqual(
      [
        'mirrors/debian/debian/dists/fixture/InRelease',
        'mirrors/debian/debian/dists/fixture/Release',
        'mirrors/debian/debian/dists/fixture/Release.gpg',
        'mirrors/debian/debian/dists/fixture/main/binary-amd64/Packages',
        'mirrors/debian/debian/dists/fixture/main/binary-amd64/Packages.gz',
        'manifest.json',
        'manifest.json.asc',
        'sbom.cdx.json',
      ].sort(),
    );
    const diff = await ferry(['diff', v1.bundle, v2.bundle, '--json']);
    expect(diff.code, diff.stderr).toBe(0);
    expect(JSON.parse(diff.stdout).sections.mirrors).toEqual({ added: [], removed: [], changed: [{ name: 'debian/fixture/libfoo:amd64', from: '1.3-1', to: '1.3-1+deb12u1' }] });
    digest2 = await importBundle(v2.bundle);
  });

  let v3: { bundle: string; result: { base: { version: string } } };
  let digest3: string;
  it('a second refresh of an unchanged upstream carries no mirror file: only the signed manifest and the SBOM that names the new version', async () => {
    v3 = await lockAndBuild('3.0.0', v2.bundle);
    expect(v3.result.base.version).toBe('2.0.0');
    expect(await carriedBy(v3.bundle)).toEqual(['manifest.json', 'manifest.json.asc', 'sbom.cdx.json']);
    digest3 = await importBundle(v3.bundle);
  });

  it('ferry sbom prints the SBOM of a stored differential release (its .debs carried by the base)', async () => {
    const r = await ferry(['sbom', 'site-mirror/3.0.0', '--store', store()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"pkg:deb\/debian\/libfoo@1\.3-1(\+|%2B)deb12u1\?arch=amd64&distro=fixture"/);
  });

  it('/mirrors/NAME/ serves the newest snapshot, NAME@VERSION each earlier one, and ferry mirror switch moves it atomically', async () => {
    const head = async (path: string) => {
      const r = await fetch(`${serve!.url}${path}`, { method: 'HEAD' });
      return { status: r.status, bundle: r.headers.get('x-ferry-bundle') };
    };
    const release = '/debian/dists/fixture/Release';
    expect(await head(`/mirrors/debian${release}`)).toEqual({ status: 200, bundle: digest3 });
    expect(await head(`/mirrors/debian@1.0.0${release}`)).toEqual({ status: 200, bundle: digest1 });
    expect(await head(`/mirrors/debian@2.0.0${release}`)).toEqual({ status: 200, bundle: digest2 });
    expect((await head(`/mirrors/debian@9.9.9${release}`)).status).toBe(404);
    expect((await head(`/mirrors/nosuch${release}`)).status).toBe(404);

    const sw = await ferry(['mirror', 'switch', 'debian', '1.0.0', '--store', store()]);
    expect(sw.code, sw.stderr).toBe(0);
    expect(await head(`/mirrors/debian${release}`)).toEqual({ status: 200, bundle: digest1 });
    const bad = await ferry(['mirror', 'switch', 'debian', '9.9.9', '--store', store()]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/no snapshot 9\.9\.9.*1\.0\.0, 2\.0\.0, 3\.0\.0/);
    expect(await head(`/mirrors/debian${release}`)).toEqual({ status: 200, bundle: digest1 });
  });

  it('ferry mirror switch back warns that apt hosts keep the newer Release they read, and the remedy it names works with the real apt-get', async () => {
    const apt = await privateApt(`deb [signed-by=${join(dir, 'mirror-key.asc')}] ${serve!.url}/mirrors/debian/debian fixture main`);
    const forward = await ferry(['mirror', 'switch', 'debian', '3.0.0', '--store', store()]);
    expect(forward.code, forward.stderr).toBe(0);
    expect(forward.stderr).not.toMatch(/warning/);
    expect((await apt.aptGet('update')).code).toBe(0);
    expect((await apt.simulate(['libfoo'])).installs).toEqual(['libfoo 1.3-1+deb12u1']);
    const back = await ferry(['mirror', 'switch', 'debian', '1.0.0', '--store', store()]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe('/mirrors/debian/ now serves debian@1.0.0\n');
    expect(back.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^warning: \/mirrors\/debian\/: the Release of fixture \S+ < \S+ is dated before the one served until now: apt ignores an older Release, .*remove \/var\/lib\/apt\/lists\/\*_mirrors_debian_\* and run apt-get update$/),
    ]);
    // what the warning says: apt keeps the lists of 3.0.0, whose libfoo the server no longer has
    expect((await apt.aptGet('update')).code).toBe(0);
    expect((await apt.simulate(['libfoo'])).installs).toEqual(['libfoo 1.3-1+deb12u1']);
    expect((await apt.aptGet('install', '-y', '--download-only', 'libfoo')).code).not.toBe(0);
    // and the remedy it names
    const lists = join(apt.root, 'var/lib/apt/lists');
    for (const f of await readdir(lists)) if (/_mirrors_debian_/.test(f)) await rm(join(lists, f));
    expect((await apt.aptGet('update')).code).toBe(0);
    expect((await apt.simulate(['libfoo'])).installs).toEqual(['libfoo 1.3-1']);
  });

  it('nginx with --nginx-config serves the same mirror URLs, following ferry mirror switch', async () => {
    const port = await freePort();
    const cfg = await ferry(['serve', '--nginx-config', '--store', store(), '--listen', `127.0.0.1:${port}`]);
    expect(cfg.code, cfg.stderr).toBe(0);
    const nginx = await runNginx(cfg.stdout, port);
    try {
      const body = statusAndBody;
      const release = '/debian/dists/fixture/Release';
      for (const path of [`/mirrors/debian${release}`, `/mirrors/debian@2.0.0${release}`, '/mirrors/debian/keys/bundle.asc', `/mirrors/nosuch${release}`, '/mirrors/debian/../../manifest.json']) {
        expect(await body(nginx.url, path), path).toBe(await body(serve!.url, path));
      }
      expect(await body(nginx.url, `/mirrors/debian${release}`)).toMatch(/^200 /);
      const sw = await ferry(['mirror', 'switch', 'debian', '3.0.0', '--store', store()]);
      expect(sw.code, sw.stderr).toBe(0);
      expect(await body(nginx.url, `/mirrors/debian${release}`)).toBe(await body(nginx.url, `/mirrors/debian@3.0.0${release}`));
      expect((await ferry(['mirror', 'switch', 'debian', '1.0.0', '--store', store()])).code).toBe(0);
      expect(await body(nginx.url, `/mirrors/debian${release}`)).toBe(await body(nginx.url, `/mirrors/debian@1.0.0${release}`));
    } finally {
      await nginx.stop();
    }
  });

  it('ferry gc keeps the newest snapshots and the one the stable URL serves, and drops the rest', async () => {
    expect(await gcKeepingOne(store())).toEqual({ removed: ['2.0.0'], kept: ['1.0.0 protected', '3.0.0 newest'] });
    const status = async (path: string) => (await fetch(`${serve!.url}${path}`, { method: 'HEAD' })).status;
    expect(await status('/mirrors/debian@2.0.0/debian/dists/fixture/Release')).toBe(404);
    expect(await status('/mirrors/debian/debian/dists/fixture/Release')).toBe(200);
    const list = await ferry(['mirror', 'list', '--store', store(), '--json']);
    expect(JSON.parse(list.stdout).map((s: { version: string; served: boolean }) => `${s.version} ${s.served}`)).toEqual(['1.0.0 true', '3.0.0 false']);
  });
});
