import { cp, mkdtemp, readdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, buildSource, readPrivate, serveDir, signRelease, writeUpstream, type FixtureDeb } from '../apt/fixtureUpstream.js';
import { privateApt } from '../apt/privateApt.js';
import { spawnServe, type ServeProcess } from '../serve/spawnServe.js';

/** Binary packages of two source packages (one named by its own name, one by `Source: name (version)`), and one whose source the upstream lacks. */
const BINARIES: FixtureDeb[] = [
  { name: 'hello', version: '1.0' },
  { name: 'hello-doc', version: '1.0', source: 'hello', arch: 'all' },
  { name: 'greet', version: '2.0-1' },
  { name: 'greet-data', version: '2.0-1+b1', source: 'greet (2.0-1)' },
  { name: 'lonely', version: '1.0' },
];

describe('apt mirror with sources: true carries the source packages, and the real apt-get source fetches them', () => {
  let dir: string;
  let upstream: Awaited<ReturnType<typeof serveDir>>;
  let upstreamKey: Awaited<ReturnType<typeof writeKey>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  let debs: string[];
  let sources: string[];
  let serve: ServeProcess | undefined;
  const closers: Array<() => Promise<void>> = [];

  const writeSpec = (version: string, uri: string, packages: string[], suites = ['fixture']) =>
    writeFile(
      join(dir, 'mirror.yaml'),
      [
        'name: src-mirror',
        `version: ${version}`,
        'epoch: 2026-11-25T00:00:00Z',
        'mirrors:',
        '  apt:',
        '    debian:',
        `      uri: "${uri}"`,
        '      keyring: upstream.asc',
        `      suites: [${suites.join(', ')}]`,
        '      architectures: [amd64]',
        `      filter: { packages: ${JSON.stringify(packages)} }`,
        '      sources: true',
        '',
      ].join('\n'),
    );
  const lock = (cache = join(dir, 'cache')) => ferry(['lock', join(dir, 'mirror.yaml'), '--cache', cache]);
  const lockAndBuild = async (version: string, since?: string) => {
    await writeSpec(version, upstream.url, ['hello*', 'greet*']);
    const l = await lock();
    expect(l.code, l.stderr).toBe(0);
    const out = join(dir, 'out');
    const b = await ferry(['build', join(dir, 'mirror.yaml'), '--locked', '--key', bundleKey.secret, '--out', out, '--cache', join(dir, 'cache'), ...(since ? ['--since', since] : [])]);
    expect(b.code, b.stderr).toBe(0);
    return join(out, `src-mirror-${version}.ferry`);
  };
  const publish = () => writeUpstream(join(dir, 'upstream'), debs, { suite: 'fixture', key: upstreamKeyPrivate!, sources });
  let upstreamKeyPrivate: Awaited<ReturnType<typeof readPrivate>> | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-src-${process.pid}-`));
    await chmod(dir, 0o755);
    debs = [];
    for (const d of BINARIES) debs.push(await buildDeb(dir, d));
    sources = [...(await buildSource(dir, { name: 'hello', version: '1.0', binaries: ['hello', 'hello-doc'] })), ...(await buildSource(dir, { name: 'greet', version: '2.0-1', binaries: ['greet', 'greet-data'] }))];
    upstreamKey = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    await writeFile(join(dir, 'upstream.asc'), upstreamKey.publicArmored);
    upstreamKeyPrivate = await readPrivate(upstreamKey.secretArmored);
    await publish();
    upstream = await serveDir(join(dir, 'upstream'));
  });
  afterAll(async () => {
    if (serve) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    for (const close of closers) await close();
    await upstream?.close();
  });

  let v1: string;
  it('pins the source package of every kept binary package, each file of its .dsc with size and sha256', async () => {
    v1 = await lockAndBuild('1.0.0');
    const locked = JSON.parse(await readFile(join(dir, 'mirror.lock.json'), 'utf8')).kinds.mirror.apt.debian;
    const srcs = locked.sourcePackages as Array<{ name: string; version: string; suite: string; component: string; files: Array<{ name: string; size: number; sha256: string; url: string }> }>;
    expect(srcs.map((s) => `${s.name} ${s.version} ${s.suite}/${s.component}`)).toEqual(['greet 2.0-1 fixture/main', 'hello 1.0 fixture/main']);
    expect(srcs[0]!.files.map((f) => f.name).sort()).toEqual(['greet_2.0-1.debian.tar.xz', 'greet_2.0-1.dsc', 'greet_2.0.orig.tar.gz']);
    const dsc = srcs[0]!.files.find((f) => f.name.endsWith('.dsc'))!;
    const bytes = await readFile(join(dir, 'srcpkg', 'greet_2.0-1.dsc'));
    expect(dsc.size).toBe(bytes.length);
    expect(dsc.url).toBe(`${upstream.url}/pool/main/greet_2.0-1.dsc`);
  });

  it('builds the same bytes from the same lock, source packages and Sources indexes included', async () => {
    const again = await ferry(['build', join(dir, 'mirror.yaml'), '--locked', '--key', bundleKey.secret, '--out', join(dir, 'out-again'), '--cache', join(dir, 'cache-again')]);
    expect(again.code, again.stderr).toBe(0);
    expect((await readFile(join(dir, 'out-again/src-mirror-1.0.0.ferry'))).equals(await readFile(v1))).toBe(true);
    const listed = (await run('tar', ['-xOf', v1, 'mirrors/debian/debian/dists/fixture/Release'])).stdout;
    expect(listed).toMatch(/^ [0-9a-f]{64} +\d+ main\/source\/Sources\.gz$/m);
  });

  it('ferry sbom prints its SBOM: the source packages\' files are carried without a component of their own', async () => {
    const r = await ferry(['sbom', v1, '--keyring', bundleKey.public]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"pkg:deb/debian/');
  });

  it('refuses a lock whose source file name leaves the pool folder (exit 67), writing no bundle', async () => {
    const lockFile = join(dir, 'mirror.lock.json');
    const good = await readFile(lockFile);
    const edited = JSON.parse(good.toString('utf8'));
    edited.kinds.mirror.apt.debian.sourcePackages[0].files[0].name = '../../../evil.dsc';
    try {
      await writeFile(lockFile, JSON.stringify(edited, null, 2));
      const out = join(dir, 'out-hostile-lock');
      const r = await ferry(['build', join(dir, 'mirror.yaml'), '--locked', '--key', bundleKey.secret, '--out', out, '--cache', join(dir, 'cache')]);
      expect(r.code).toBe(67);
      expect(r.stderr).toContain('"../../../evil.dsc"');
      expect((await run('ls', ['-A', out])).stdout.trim()).toBe('');
    } finally {
      await writeFile(lockFile, good);
    }
  });

  it('a kept binary package whose source the upstream does not list fails the lock, naming the binary (exit 70)', async () => {
    await writeSpec('1.0.0', upstream.url, ['lonely']);
    const r = await lock();
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/binary package lonely 1\.0 .*source lonely 1\.0/);
  });

  /** a copy of the upstream whose Sources index is changed by `edit`, re-signed by the upstream key */
  const hostileUpstream = async (edit: (sources: string) => string) => {
    const root = await mkdtemp(join(dir, 'hostile-'));
    await cp(join(dir, 'upstream'), root, { recursive: true });
    const dist = join(root, 'dists/fixture');
    const file = join(dist, 'main/source/Sources.gz');
    const edited = edit(gunzipSync(await readFile(file)).toString('utf8'));
    await writeFile(file, gzipSync(edited));
    // the Release lists the plain indexes too, as the upstream's own does (apt and ferry skip an index
    // listed only compressed); only the compressed ones are served
    const packages = join(dist, 'main/binary-amd64/Packages');
    await writeFile(packages, gunzipSync(await readFile(`${packages}.gz`)));
    await writeFile(join(dist, 'main/source/Sources'), edited);
    const release = execFileSync('apt-ftparchive', ['-o', 'APT::FTPArchive::Release::Suite=fixture', '-o', 'APT::FTPArchive::Release::Codename=fixture', 'release', '.'], { cwd: dist }).toString('utf8');
    await rm(packages);
    await rm(join(dist, 'main/source/Sources'));
    await signRelease(dist, release, upstreamKeyPrivate!);
    const served = await serveDir(root);
    closers.push(served.close);
    return served.url;
  };
  it.each([
    ['a Directory that leaves the pool', (s: string) => s.replace(/^Directory: .*$/gm, 'Directory: pool/../../etc'), /Directory "pool\/\.\.\/\.\.\/etc"/],
    ['a file name with a folder in it', (s: string) => s.replace(/ (greet_2\.0\.orig\.tar\.gz)$/gm, ' ../$1'), /a file named "\.\.\/greet_2\.0\.orig\.tar\.gz"/],
  ])('refuses a Sources index with %s in one line (exit 67), writing no lock', async (_what, edit, message) => {
    const url = await hostileUpstream(edit);
    await writeSpec('1.0.0', url, ['greet']);
    const before = await readFile(join(dir, 'mirror.lock.json'));
    const r = await lock(await mkdtemp(join(dir, 'cache-hostile-')));
    expect(r.code).toBe(67);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect((await readFile(join(dir, 'mirror.lock.json'))).equals(before)).toBe(true);
  });

  let store: string;
  it('after import and serve, the real apt-get source --download-only fetches and verifies a source package from the mirror', async () => {
    store = join(dir, 'store');
    const imp = await ferry(['import', v1, '--keyring', bundleKey.public, '--store', store]);
    expect(imp.code, imp.stderr).toBe(0);
    serve = await spawnServe(['--store', store, '--listen', '127.0.0.1:0']);
    await writeFile(join(dir, 'mirror-key.asc'), await (await fetch(`${serve.url}/mirrors/debian/keys/bundle.asc`)).text());
    const apt = await privateApt(`deb-src [signed-by=${join(dir, 'mirror-key.asc')}] ${serve.url}/mirrors/debian/debian fixture main`);
    const update = await apt.aptGet('update');
    expect(update.code, update.stderr).toBe(0);
    expect(update.stderr).not.toMatch(/^[WE]:/m);
    const into = await mkdtemp(join(dir, 'apt-source-'));
    // a binary package's name: apt maps it to its source through the Sources index's Binary field
    const got = await apt.aptGetIn(into, 'source', '--download-only', 'greet-data');
    expect(got.code, got.stderr).toBe(0);
    expect((await readdir(into)).sort()).toEqual(['greet_2.0-1.debian.tar.xz', 'greet_2.0-1.dsc', 'greet_2.0.orig.tar.gz']);
    for (const f of await readdir(into)) expect((await readFile(join(into, f))).equals(await readFile(join(dir, 'srcpkg', f)))).toBe(true);
  });

  it('a refresh that changes one source version carries only its new files (build --since)', async () => {
    debs = debs.filter((d) => !d.includes('/greet_2.0-1_'));
    debs.push(await buildDeb(dir, { name: 'greet', version: '2.0-2' }));
    sources.push(...(await buildSource(dir, { name: 'greet', version: '2.0-2', binaries: ['greet', 'greet-data'] })).filter((f) => !sources.includes(f)));
    await publish();
    const v2 = await lockAndBuild('2.0.0', v1);
    const carried = (await run('tar', ['-tf', v2])).stdout.trim().split('\n').sort();
    const root = 'mirrors/debian/debian';
    expect(carried).toEqual(
      [
        `${root}/pool/main/g/greet/greet_2.0-2.debian.tar.xz`,
        `${root}/pool/main/g/greet/greet_2.0-2.dsc`,
        `${root}/pool/main/g/greet/greet_2.0-2_amd64.deb`,
        `${root}/dists/fixture/InRelease`,
        `${root}/dists/fixture/Release`,
        `${root}/dists/fixture/Release.gpg`,
        `${root}/dists/fixture/main/binary-amd64/Packages`,
        `${root}/dists/fixture/main/binary-amd64/Packages.gz`,
        `${root}/dists/fixture/main/source/Sources`,
        `${root}/dists/fixture/main/source/Sources.gz`,
        'manifest.json',
        'manifest.json.asc',
        'sbom.cdx.json',
      ].sort(),
    );
    // ferry diff names the source packages beside the binaries: greet-data 2.0-1+b1 still comes from source 2.0-1,
    // so the mirror now carries both source versions
    const diff = await ferry(['diff', v1, v2, '--json']);
    expect(diff.code, diff.stderr).toBe(0);
    expect(JSON.parse(diff.stdout).sections.mirrors.changed).toEqual([
      { name: 'debian/fixture/greet:amd64', from: '2.0-1', to: '2.0-2' },
      { name: 'debian/fixture/greet:source', from: '2.0-1', to: '2.0-1, 2.0-2' },
    ]);
  });

  it('two suites that list the same source package (and .debs) publish each pool file once', async () => {
    await writeUpstream(join(dir, 'upstream'), debs, { suite: 'fixture-updates', key: upstreamKeyPrivate!, sources });
    await writeSpec('3.0.0', upstream.url, ['hello*', 'greet*'], ['fixture', 'fixture-updates']);
    const l = await lock();
    expect(l.code, l.stderr).toBe(0);
    const out = join(dir, 'out-two-suites');
    const b = await ferry(['build', join(dir, 'mirror.yaml'), '--locked', '--key', bundleKey.secret, '--out', out, '--cache', join(dir, 'cache')]);
    expect(b.code, b.stderr).toBe(0);
    const bundle = join(out, 'src-mirror-3.0.0.ferry');
    const carried = (await run('tar', ['-tf', bundle])).stdout.trim().split('\n');
    expect(carried.filter((p) => p.endsWith('/greet_2.0.orig.tar.gz'))).toEqual(['mirrors/debian/debian/pool/main/g/greet/greet_2.0.orig.tar.gz']);
    expect(new Set(carried).size).toBe(carried.length);
    expect(carried).toContain('mirrors/debian/debian/dists/fixture-updates/main/source/Sources.gz');
    const imp = await ferry(['import', bundle, '--keyring', bundleKey.public, '--store', join(dir, 'store-two-suites')]);
    expect(imp.code, imp.stderr).toBe(0);
  });
});
