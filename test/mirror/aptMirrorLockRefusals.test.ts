import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, signRelease, writeUpstream } from '../apt/fixtureUpstream.js';
import { aptMirrorSpec } from './mirrorChecks.js';
import { privateApt } from '../apt/privateApt.js';

describe('apt mirror: what the lock pins is what the mirror can publish', () => {
  let dir: string;
  let upstreamKey: Awaited<ReturnType<typeof writeKey>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  const closers: Array<() => Promise<void>> = [];
  /** a served upstream of these .debs, and a spec of a mirror of it with `filter` */
  const upstreamOf = async (debs: string[], filter: string, edit?: (packages: string) => string, releaseOptions: string[] = []) => {
    const root = await mkdtemp(join(dir, 'upstream-'));
    await writeUpstream(root, debs, { suite: 'fixture', key: await readPrivate(upstreamKey.secretArmored) });
    if (edit || releaseOptions.length) {
      // the upstream's own signed index, as its key signs what it likes
      const dist = join(root, 'dists/fixture');
      const packages = (edit ?? ((t: string) => t))(gunzipSync(await readFile(join(dist, 'main/binary-amd64/Packages.gz'))).toString('utf8'));
      await writeFile(join(dist, 'main/binary-amd64/Packages'), packages);
      await writeFile(join(dist, 'main/binary-amd64/Packages.gz'), gzipSync(packages));
      const opts = [...['Suite=fixture', 'Codename=fixture'].filter((o) => !releaseOptions.some((r) => r.startsWith(o.split('=')[0]!))), 'Architectures=amd64', 'Components=main', ...releaseOptions].flatMap((o) => ['-o', `APT::FTPArchive::Release::${o}`]);
      const release = execFileSync('apt-ftparchive', [...opts, 'release', '.'], { cwd: dist }).toString('utf8');
      await rm(join(dist, 'main/binary-amd64/Packages'));
      await signRelease(dist, release, await readPrivate(upstreamKey.secretArmored));
    }
    const served = await serveDir(root);
    closers.push(served.close);
    const spec = join(await mkdtemp(join(dir, 'spec-')), 'mirror.yaml');
    await writeFile(spec, aptMirrorSpec('1.0.0', served.url, filter));
    await writeFile(join(spec, '../upstream.asc'), upstreamKey.publicArmored);
    return { spec, lockFile: spec.replace(/\.yaml$/, '.lock.json'), root };
  };
  const lock = (spec: string) => ferry(['lock', spec, '--cache', join(dir, 'cache')]);
  const build = (spec: string, out: string) => ferry(['build', spec, '--locked', '--key', bundleKey.secret, '--out', out, '--cache', join(dir, 'cache')]);
  const ferryLines = (stderr: string) => stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'));
  /** build with this edited lock: refused because no signed index (of the entry's suite) lists NAME VERSION's file: 67, one line, no bundle */
  const refusedUnlisted = async (spec: string, lockFile: string, edited: object, outName: string, name: string, version: string) => {
    await writeFile(lockFile, JSON.stringify(edited, null, 2));
    const out = join(dir, outName);
    const r = await build(spec, out);
    expect(r.code, r.stderr).toBe(67);
    const file = `${name}_${version}_amd64.deb`.replace(/\./g, '\\.');
    const what = `${name} ${version} amd64`.replace(/\./g, '\\.');
    expect(ferryLines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^ferry: http:.*/pool/main/${file}: the lock pins ${what} \\(sha256 [0-9a-f]{64}, \\d+ bytes\\), but no signed Packages index of the spec's upstreams lists that file; run ferry lock again and review the diff$`))]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-lock-${process.pid}-`));
    upstreamKey = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('locks and builds a mirror whose index gives a package SHA512 and no SHA256, as apt-get takes it: the lock pins the sha256 of the file', async () => {
    const deb = await buildDeb(join(dir, 's512'), { name: 'hello', version: '1.0' });
    const { spec, lockFile } = await upstreamOf([deb], '{ packages: [hello] }', (t) => t.replace(/^SHA256: [0-9a-f]{64}\n/m, ''));
    const l = await lock(spec);
    expect(l.code, l.stderr).toBe(0);
    const pinned = JSON.parse(await readFile(lockFile, 'utf8')).kinds.mirror.apt.debian.packages as Array<Record<string, unknown>>;
    expect(pinned.map((p) => [p.name, p.sha256])).toEqual([['hello', createHash('sha256').update(await readFile(deb)).digest('hex')]]);
    const b = await build(spec, join(dir, 'out-s512'));
    expect(b.code, b.stderr).toBe(0);
  });

  it('refuses a lock entry that names another package than the file it pins, though another entry pins that file truthfully (exit 67, one line, no bundle)', async () => {
    const { spec, lockFile } = await upstreamOf([await buildDeb(dir, { name: 'hello', version: '1.0' }), await buildDeb(dir, { name: 'world', version: '2.0' })], '{ packages: [hello, world] }');
    const l = await lock(spec);
    expect(l.code, l.stderr).toBe(0);
    const edited = JSON.parse(await readFile(lockFile, 'utf8'));
    const pkgs = edited.kinds.mirror.apt.debian.packages as Array<Record<string, string>>;
    // the lie first, the true entry for the same file after it
    pkgs.unshift({ ...pkgs.find((p) => p.name === 'world')!, name: 'openssl', version: '9.9' });
    await writeFile(lockFile, JSON.stringify(edited, null, 2));
    const out = join(dir, 'out-lie');
    const r = await build(spec, out);
    expect(r.code, r.stderr).toBe(67);
    // no signed index lists world's file as openssl 9.9: refused on that before the file is fetched (its
    // control, which says world 2.0, would refuse it after; checkLockedControls)
    expect(ferryLines(r.stderr)).toEqual([expect.stringMatching(/^ferry: http:.*\/world_2\.0_amd64\.deb: the lock pins openssl 9\.9 amd64 \(sha256 [0-9a-f]{64}, \d+ bytes\), but no signed Packages index of the spec's upstreams lists that file; run ferry lock again and review the diff$/)]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('refuses a lock edited to pin a .deb of the upstream\'s pool that no signed index lists (exit 67, one line, no bundle); the lock as written builds', async () => {
    const { spec, lockFile, root } = await upstreamOf([await buildDeb(join(dir, 'unlisted-new'), { name: 'hello', version: '1.0' })], '{ packages: [hello] }');
    // an old version in the upstream's pool, listed by no Packages index its key signed
    const old = await buildDeb(join(dir, 'unlisted-old'), { name: 'hello', version: '0.9' });
    await copyFile(old, join(root, 'pool/main/hello_0.9_amd64.deb'));
    const l = await lock(spec);
    expect(l.code, l.stderr).toBe(0);
    const written = await readFile(lockFile, 'utf8');
    const edited = JSON.parse(written);
    const pkgs = edited.kinds.mirror.apt.debian.packages as Array<Record<string, unknown>>;
    expect(pkgs.map((p) => `${p.name} ${p.version}`)).toEqual(['hello 1.0']);
    pkgs[0] = {
      ...pkgs[0],
      version: '0.9',
      url: String(pkgs[0]!.url).replace('hello_1.0_amd64.deb', 'hello_0.9_amd64.deb'),
      size: (await stat(old)).size,
      sha256: createHash('sha256').update(await readFile(old)).digest('hex'),
    };
    await refusedUnlisted(spec, lockFile, edited, 'out-unlisted', 'hello', '0.9');
    await writeFile(lockFile, written);
    const ok = await build(spec, join(dir, 'out-unlisted-ok'));
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('refuses a mirror lock edited to publish, in one suite, a .deb only another suite of the upstream lists (exit 67, one line, no bundle)', async () => {
    const root = await mkdtemp(join(dir, 'upstream-suites-'));
    const key = await readPrivate(upstreamKey.secretArmored);
    // suite fixture lists hello 1.0; suite other (written after, indexing the whole pool) lists 1.0 and 2.0
    await writeUpstream(root, [await buildDeb(join(dir, 'suites-a'), { name: 'hello', version: '1.0' })], { suite: 'fixture', key });
    await writeUpstream(root, [await buildDeb(join(dir, 'suites-b'), { name: 'hello', version: '2.0' })], { suite: 'other', key });
    const served = await serveDir(root);
    closers.push(served.close);
    const spec = join(await mkdtemp(join(dir, 'spec-suites-')), 'mirror.yaml');
    await writeFile(spec, aptMirrorSpec('1.0.0', served.url, '{ packages: [hello] }').replace('suites: [fixture]', 'suites: [fixture, other]'));
    await writeFile(join(spec, '../upstream.asc'), upstreamKey.publicArmored);
    const lockFile = spec.replace(/\.yaml$/, '.lock.json');
    const l = await lock(spec);
    expect(l.code, l.stderr).toBe(0);
    const edited = JSON.parse(await readFile(lockFile, 'utf8'));
    const pkgs = edited.kinds.mirror.apt.debian.packages as Array<Record<string, unknown>>;
    const inFixture = pkgs.find((p) => p.suite === 'fixture' && p.version === '1.0')!;
    const onlyOther = pkgs.find((p) => p.suite === 'other' && p.version === '2.0')!;
    expect(inFixture).toBeDefined();
    expect(onlyOther).toBeDefined();
    // suite fixture now publishes other's hello 2.0, every field of it true but the suite
    Object.assign(inFixture, { version: onlyOther.version, url: onlyOther.url, size: onlyOther.size, sha256: onlyOther.sha256, priority: onlyOther.priority });
    await refusedUnlisted(spec, lockFile, edited, 'out-suites', 'hello', '2.0');
  });

  it.each([
    ['a Filename with a space', (t: string) => t.replace(/^Filename: pool\/main\/hello_1\.0_amd64\.deb$/m, 'Filename: pool/main/hello 1.0_amd64.deb'), /packages\[0\]\.url: an http\(s\):\/\/ or file:\/\/ URL or an absolute path \("hello 1\.0 amd64" at "http:.*\/pool\/main\/hello 1\.0_amd64\.deb"\)/],
    ['a Filename with an encoded dot segment', (t: string) => t.replace(/^Filename: pool\/main\//m, 'Filename: pool/main/%2e%2e/main/'), /pool\/main\/%2e%2e\/main\/hello_1\.0_amd64\.deb" is not a file of an upstream the spec names .*percent-encoded "\.\." segment \(package hello 1\.0 amd64\)/],
    ['a Priority of two words', (t: string) => t.replace(/^Priority: .*$/m, 'Priority: optional extra').replace(/^(Package: hello)$/m, '$1\nPriority: optional extra'), /priority/],
  ])('refuses, at lock, an upstream index with %s, which the build would refuse in the lock (exit 70, one line, no lock)', async (_what, edit, names) => {
    const { spec, lockFile } = await upstreamOf([await buildDeb(join(dir, 'e'), { name: 'hello', version: '1.0' })], '{ packages: [hello] }', edit);
    const r = await lock(spec);
    expect(r.code, r.stderr).toBe(70);
    expect(ferryLines(r.stderr)).toEqual([expect.stringMatching(/^ferry: mirrors\.apt\.debian: the upstream's index gives what a lock may not hold: /)]);
    expect(ferryLines(r.stderr)[0]).toMatch(names);
    expect(r.stderr).not.toMatch(/run ferry lock again/);
    await expect(readFile(lockFile)).rejects.toThrow(/ENOENT/);
  });

  it('refuses, at lock, an upstream that lists one package version as two different files, which the mirror\'s pool cannot both hold (exit 67, one line, no lock)', async () => {
    // app 1.0 twice, other bytes (another section) under another file name: selection and dependency resolution each took one
    const first = await buildDeb(join(dir, 'a'), { name: 'app', version: '1.0', depends: 'lib' });
    const second = join(dir, 'b', 'app_1.0_amd64.rebuilt.deb');
    await rename(await buildDeb(join(dir, 'b'), { name: 'app', version: '1.0', depends: 'lib', section: 'rebuilt' }), second);
    const { spec, lockFile } = await upstreamOf([first, second, await buildDeb(dir, { name: 'lib', version: '1.0' })], '{ packages: [app], with_dependencies: true }');
    const r = await lock(spec);
    expect(r.code, r.stderr).toBe(67);
    expect(ferryLines(r.stderr)).toEqual([
      expect.stringMatching(/^ferry: mirrors\.apt\.debian: the upstream lists app 1\.0 amd64 \(main\) as two different files, "pool\/main\/app_1\.0_amd64(\.rebuilt)?\.deb" \(fixture\) and "pool\/main\/app_1\.0_amd64(\.rebuilt)?\.deb" \(fixture\); a mirror publishes one file per package version/),
    ]);
    await expect(readFile(lockFile)).rejects.toThrow(/ENOENT/);
  });
  it('keeps an upstream suite\'s NotAutomatic and ButAutomaticUpgrades in the mirror\'s Release, so hosts pin it as the upstream does', async () => {
    for (const [options, expected] of [
      [['NotAutomatic=yes', 'ButAutomaticUpgrades=yes'], ['NotAutomatic: yes', 'ButAutomaticUpgrades: yes']],
      [['NotAutomatic=yes'], ['NotAutomatic: yes']],
      [[], []],
    ] as const) {
      const { spec, lockFile } = await upstreamOf([await buildDeb(dir, { name: 'hello', version: '1.0' })], '{ packages: [hello] }', undefined, [...options]);
      const l = await lock(spec);
      expect(l.code, l.stderr).toBe(0);
      expect(JSON.parse(await readFile(lockFile, 'utf8')).kinds.mirror.apt.debian.suites[0].pin).toBe(options.length === 2 ? 100 : options.length === 1 ? 1 : undefined);
      const out = await mkdtemp(join(dir, 'out-'));
      const b = await build(spec, out);
      expect(b.code, b.stderr).toBe(0);
      const bundle = join(out, (await readdir(out)).find((f) => f.endsWith('.ferry'))!);
      const release = execFileSync('tar', ['-xOf', bundle, 'mirrors/debian/debian/dists/fixture/Release']).toString('utf8');
      expect(release.split('\n').filter((line) => /^(NotAutomatic|ButAutomaticUpgrades):/.test(line)), options.join(' ')).toEqual([...expected]);
    }
  });
  it('keeps the upstream Release\'s Suite and Codename (stable, bookworm for dists/fixture), which hosts\' pins and apt-get -t name; the real apt-get reads the mirror without a warning', async () => {
    const { spec, lockFile } = await upstreamOf([await buildDeb(dir, { name: 'hello', version: '1.0' })], '{ packages: [hello] }', undefined, ['Suite=stable', 'Codename=fixture']);
    const l = await lock(spec);
    expect(l.code, l.stderr).toBe(0);
    expect(JSON.parse(await readFile(lockFile, 'utf8')).kinds.mirror.apt.debian.suites[0]).toMatchObject({ suite: 'fixture', releaseSuite: 'stable' });
    const out = await mkdtemp(join(dir, 'out-'));
    const b = await build(spec, out);
    expect(b.code, b.stderr).toBe(0);
    const bundle = join(out, (await readdir(out)).find((f) => f.endsWith('.ferry'))!);
    const release = execFileSync('tar', ['-xOf', bundle, 'mirrors/debian/debian/dists/fixture/Release']).toString('utf8');
    expect(release.split('\n').filter((line) => /^(Suite|Codename):/.test(line))).toEqual(['Suite: stable', 'Codename: fixture']);
    // the real apt-get: `-t stable` names the mirror's suite as it names the upstream's
    const tree = await mkdtemp(join(dir, 'tree-'));
    execFileSync('tar', ['-xf', bundle, '-C', tree]);
    const apt = await privateApt(`deb [signed-by=${join(tree, 'mirrors/debian/keys/bundle.asc')}] file:${join(tree, 'mirrors/debian/debian')} fixture main`);
    const update = await apt.aptGet('update');
    expect(update.code, update.stderr).toBe(0);
    expect(update.stderr).not.toMatch(/^[WE]:/m);
    const sim = await apt.simulate(['-t', 'stable', 'hello']);
    expect(sim.result.code, sim.result.stderr).toBe(0);
    expect(sim.installs).toEqual(['hello 1.0']);
  });
});
