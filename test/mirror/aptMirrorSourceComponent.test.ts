import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, buildSource, readPrivate, serveDir, signRelease, writeUpstream } from '../apt/fixtureUpstream.js';
import { refusedEditedLock } from './mirrorChecks.js';

interface LockedSource {
  name: string;
  version: string;
  suite: string;
  component: string;
  files: Array<{ name: string; size: number; sha256: string; url: string }>;
}
type MirrorLock = { packages: Array<{ name: string; suite: string; component: string }>; sourcePackages: LockedSource[] };

describe('apt mirror with sources: build --locked takes each source package from the component ferry lock takes it from, and only the sources of locked .debs', () => {
  let dir: string;
  let spec: string;
  let lockFile: string;
  let written: string;
  let served: Awaited<ReturnType<typeof serveDir>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  const closers: Array<() => Promise<void>> = [];

  const build = (out: string, cache: string) => ferry(['build', spec, '--locked', '--key', bundleKey.secret, '--out', out, '--cache', cache]);
  const mirrorOf = (lock: { kinds: { mirror: { apt: { debian: MirrorLock } } } }) => lock.kinds.mirror.apt.debian;
  /** build with the lock as `edit` changes it, from an empty cache: refused in one line (exit 67), nothing written or fetched from the pool */
  const refused = async (outName: string, edit: (m: MirrorLock) => void, message: RegExp) => {
    const out = join(dir, outName);
    const fromEmptyCache = async () => build(out, await mkdtemp(join(dir, 'cache-refused-')));
    await refusedEditedLock({ lockFile, written, out, served, build: fromEmptyCache }, (lock) => edit(mirrorOf(lock)), message);
  };
  /** a Sources index's stanzas of these source packages only */
  const stanzasOf = (sources: string, names: string[]) =>
    sources
      .split(/\n\n+/)
      .filter((s) => names.includes(/^Package: (\S+)$/m.exec(s)?.[1] ?? ''))
      .join('\n\n') + '\n';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-srccomp-${process.pid}-`));
    const upstreamKey = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    const key = await readPrivate(upstreamKey.secretArmored);
    const root = join(dir, 'upstream');
    // main: the .deb hello 1.0-1; the sources hello, extra (of contrib's extra-bin) and spare (of no .deb)
    const sources = [
      ...(await buildSource(join(dir, 'hello'), { name: 'hello', version: '1.0-1' })),
      ...(await buildSource(join(dir, 'extra'), { name: 'extra', version: '1.0-1', binaries: ['extra-bin'] })),
      ...(await buildSource(join(dir, 'spare'), { name: 'spare', version: '1.0-1' })),
    ];
    await writeUpstream(root, [await buildDeb(join(dir, 'hello'), { name: 'hello', version: '1.0-1' })], { suite: 'fixture', key, sources });
    // contrib: the .deb extra-bin 1.0-1 (source extra, which only main's Sources lists), and a Sources index
    // that lists hello 1.0-1 too (its files in pool/main, as main's stanza gives them)
    const dist = join(root, 'dists/fixture');
    await mkdir(join(root, 'pool/contrib'), { recursive: true });
    const extraBin = await buildDeb(join(dir, 'extra'), { name: 'extra-bin', version: '1.0-1', source: 'extra' });
    await copyFile(extraBin, join(root, 'pool/contrib', basename(extraBin)));
    await mkdir(join(dist, 'contrib/binary-amd64'), { recursive: true });
    await mkdir(join(dist, 'contrib/source'), { recursive: true });
    const contribPackages = execFileSync('apt-ftparchive', ['packages', 'pool/contrib'], { cwd: root });
    await writeFile(join(dist, 'contrib/binary-amd64/Packages'), contribPackages);
    await writeFile(join(dist, 'contrib/binary-amd64/Packages.gz'), gzipSync(contribPackages));
    const mainSources = gunzipSync(await readFile(join(dist, 'main/source/Sources.gz'))).toString('utf8');
    const contribSources = stanzasOf(mainSources, ['hello']);
    expect(contribSources).toMatch(/^Package: hello$/m);
    await writeFile(join(dist, 'contrib/source/Sources'), contribSources);
    await writeFile(join(dist, 'contrib/source/Sources.gz'), gzipSync(contribSources));
    // the Release lists the uncompressed indexes too, as Debian's does (apt ignores an index without them)
    await writeFile(join(dist, 'main/source/Sources'), mainSources);
    await writeFile(join(dist, 'main/binary-amd64/Packages'), gunzipSync(await readFile(join(dist, 'main/binary-amd64/Packages.gz'))));
    const opts = ['Suite=fixture', 'Codename=fixture', 'Architectures=amd64', 'Components=main contrib'].flatMap((o) => ['-o', `APT::FTPArchive::Release::${o}`]);
    await signRelease(dist, execFileSync('apt-ftparchive', [...opts, 'release', '.'], { cwd: dist }).toString('utf8'), key);
    served = await serveDir(root);
    closers.push(served.close);
    spec = join(dir, 'mirror.yaml');
    lockFile = join(dir, 'mirror.lock.json');
    await writeFile(join(dir, 'upstream.asc'), upstreamKey.publicArmored);
    await writeFile(
      spec,
      ['name: src-component', 'version: 1.0.0', 'epoch: 2026-11-25T00:00:00Z', 'mirrors:', '  apt:', '    debian:', `      uri: "${served.url}"`, '      keyring: upstream.asc', '      suites: [fixture]', '      components: [main, contrib]', '      architectures: [amd64]', '      filter: { packages: [hello, extra-bin] }', '      sources: true', ''].join('\n'),
    );
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    written = await readFile(lockFile, 'utf8');
    const m = mirrorOf(JSON.parse(written));
    expect(m.packages.map((p) => `${p.name} ${p.suite}/${p.component}`)).toEqual(['extra-bin fixture/contrib', 'hello fixture/main']);
    // hello from its .deb's own component (contrib lists it too); extra from main, the only one that lists it
    expect(m.sourcePackages.map((s) => `${s.name} ${s.version} ${s.suite}/${s.component}`)).toEqual(['extra 1.0-1 fixture/main', 'hello 1.0-1 fixture/main']);
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('builds the lock as ferry lock wrote it: a source from another component than its .deb\'s when only that one lists it', async () => {
    const b = await build(join(dir, 'out-ok'), join(dir, 'cache'));
    expect(b.code, b.stderr).toBe(0);
  });

  it('refuses a source package moved to another component whose signed Sources index lists it too (exit 67, one line, nothing fetched or written)', async () => {
    await refused(
      'out-moved',
      (m) => void (m.sourcePackages.find((s) => s.name === 'hello')!.component = 'contrib'),
      /^ferry: the lock pins source package hello 1\.0-1 of http:.*\/pool\/main\/hello_1\.0-1_amd64\.deb in fixture\/contrib, but ferry lock takes it from fixture\/main, the \.deb's own component whose signed Sources index lists it; /,
    );
  });

  it('refuses a source package pinned twice, in its .deb\'s component and another that lists it (exit 67, one line, nothing fetched or written)', async () => {
    await refused(
      'out-twice',
      (m) => void m.sourcePackages.push({ ...m.sourcePackages.find((s) => s.name === 'hello')!, component: 'contrib' }),
      /^ferry: the lock pins source package hello 1\.0-1 \(fixture\/contrib\), which is not the source ferry lock takes for any \.deb the lock publishes in fixture; /,
    );
  });

  it('refuses a source package the signed index lists but no locked .deb is built from (exit 67, one line, nothing fetched or written)', async () => {
    // spare 1.0-1's files as main's signed Sources index lists them (name, size, sha256, URL)
    const index = gunzipSync(await readFile(join(dir, 'upstream/dists/fixture/main/source/Sources.gz'))).toString('utf8');
    const stanza = stanzasOf(index, ['spare']);
    const files = [...stanza.matchAll(/^ ([0-9a-f]{64}) (\d+) (\S+)$/gm)].map(([, sha256, size, name]) => ({ name: name!, size: Number(size), sha256: sha256!, url: `${served.url}/pool/main/${name}` }));
    expect(files.length).toBeGreaterThan(0);
    await refused(
      'out-spare',
      (m) => void m.sourcePackages.push({ name: 'spare', version: '1.0-1', suite: 'fixture', component: 'main', files }),
      /^ferry: the lock pins source package spare 1\.0-1 \(fixture\/main\), which is not the source ferry lock takes for any \.deb the lock publishes in fixture; /,
    );
  });
});
