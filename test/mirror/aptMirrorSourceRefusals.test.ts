import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, buildSource, readPrivate, serveDir, writeUpstream } from '../apt/fixtureUpstream.js';
import { refusedEditedLock } from './mirrorChecks.js';

interface LockedFile {
  name: string;
  size: number;
  sha256: string;
  url: string;
}
interface LockedSource {
  name: string;
  version: string;
  suite: string;
  component: string;
  files: LockedFile[];
}

describe('apt mirror with sources: build --locked publishes only source packages the signed Sources indexes list', () => {
  let dir: string;
  let spec: string;
  let lockFile: string;
  let written: string;
  let upstreamUrl: string;
  let served: Awaited<ReturnType<typeof serveDir>>;
  let upstreamKeyPrivate: Awaited<ReturnType<typeof readPrivate>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  /** hello 0.9-1's files: in the upstream's pool, listed by no Sources index */
  let unindexed: string[];
  const closers: Array<() => Promise<void>> = [];

  const build = (out: string, cache = join(dir, 'cache')) => ferry(['build', spec, '--locked', '--key', bundleKey.secret, '--out', out, '--cache', cache]);
  const ferryLines = (stderr: string) => stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'));
  /** a lock entry for a file of the upstream's pool, as ferry lock writes one */
  const lockedFile = async (path: string, name = basename(path)): Promise<LockedFile> => ({
    name,
    size: (await stat(path)).size,
    sha256: createHash('sha256').update(await readFile(path)).digest('hex'),
    url: `${upstreamUrl}/pool/main/${basename(path)}`,
  });
  const mirrorOf = (lock: { kinds: { mirror: { apt: { debian: { packages: Array<Record<string, unknown>>; sourcePackages: LockedSource[] } } } } }) => lock.kinds.mirror.apt.debian;
  /**
   * build with the lock as `edit` changes it, from an empty cache: refused in one line matching `message`
   * (exit 67), nothing in --out, and no file of the upstream's pool asked for
   */
  const refused = async (outName: string, edit: (m: ReturnType<typeof mirrorOf>) => Promise<void> | void, message: RegExp) => {
    const out = join(dir, outName);
    const fromEmptyCache = async () => build(out, await mkdtemp(join(dir, 'cache-refused-')));
    await refusedEditedLock({ lockFile, written, out, served, build: fromEmptyCache }, (lock) => edit(mirrorOf(lock)), message);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-srcref-${process.pid}-`));
    const upstreamKey = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    const key = (upstreamKeyPrivate = await readPrivate(upstreamKey.secretArmored));
    const root = join(dir, 'upstream');
    // suite fixture lists hello 1.0-1 (binary and source); suite other (written after, indexing the whole
    // pool) lists hello 1.0-1 and 2.0-1
    await writeUpstream(root, [await buildDeb(join(dir, 'v1'), { name: 'hello', version: '1.0-1' })], { suite: 'fixture', key, sources: await buildSource(join(dir, 'v1'), { name: 'hello', version: '1.0-1' }) });
    await writeUpstream(root, [await buildDeb(join(dir, 'v2'), { name: 'hello', version: '2.0-1' })], { suite: 'other', key, sources: await buildSource(join(dir, 'v2'), { name: 'hello', version: '2.0-1' }) });
    // an old source version in the pool, which no Sources index the upstream's key signed lists
    unindexed = await buildSource(join(dir, 'v0'), { name: 'hello', version: '0.9-1' });
    for (const f of unindexed) await copyFile(f, join(root, 'pool/main', basename(f)));
    served = await serveDir(root);
    closers.push(served.close);
    upstreamUrl = served.url;
    spec = join(dir, 'mirror.yaml');
    lockFile = join(dir, 'mirror.lock.json');
    await writeFile(join(dir, 'upstream.asc'), upstreamKey.publicArmored);
    await writeFile(
      spec,
      [
        'name: src-refusals',
        'version: 1.0.0',
        'epoch: 2026-11-25T00:00:00Z',
        'mirrors:',
        '  apt:',
        '    debian:',
        `      uri: "${served.url}"`,
        '      keyring: upstream.asc',
        '      suites: [fixture, other]',
        '      components: [main, contrib]',
        '      architectures: [amd64]',
        '      filter: { packages: [hello] }',
        '      sources: true',
        '',
      ].join('\n'),
    );
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    written = await readFile(lockFile, 'utf8');
    const m = mirrorOf(JSON.parse(written));
    expect(m.sourcePackages.map((s) => `${s.name} ${s.version} ${s.suite}/${s.component}`)).toEqual(['hello 1.0-1 fixture/main', 'hello 2.0-1 other/main']);
    expect(m.packages.map((p) => `${p.name} ${p.version} ${p.suite}/${p.component}`)).toEqual(['hello 1.0-1 fixture/main', 'hello 2.0-1 other/main']);
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('builds the lock as ferry lock wrote it, with every source file', async () => {
    const out = join(dir, 'out-ok');
    const b = await build(out);
    expect(b.code, b.stderr).toBe(0);
    const carried = (await run('tar', ['-tf', join(out, 'src-refusals-1.0.0.ferry')])).stdout.trim().split('\n');
    expect(carried.filter((p) => /\.(dsc|tar\.\w+)$/.test(p)).sort()).toEqual(
      ['hello_1.0-1.debian.tar.xz', 'hello_1.0-1.dsc', 'hello_1.0.orig.tar.gz', 'hello_2.0-1.debian.tar.xz', 'hello_2.0-1.dsc', 'hello_2.0.orig.tar.gz'].map((f) => `mirrors/debian/debian/pool/main/h/hello/${f}`),
    );
  });

  it('refuses a source package whose files are in the pool but in no signed Sources index (exit 67, one line, nothing written)', async () => {
    await refused(
      'out-unindexed',
      async (m) => {
        m.sourcePackages.push({ name: 'hello', version: '0.9-1', suite: 'fixture', component: 'main', files: await Promise.all(unindexed.map((f) => lockedFile(f))) });
      },
      /^ferry: the lock pins source package hello 0\.9-1 \(fixture\/main\), but no signed Sources index of the spec's upstreams lists it in fixture\/main; /,
    );
  });

  it('refuses a source package only another suite lists, moved under this suite (exit 67, one line, nothing written)', async () => {
    await refused(
      'out-other-suite',
      (m) => {
        const other = m.sourcePackages.find((s) => s.suite === 'other' && s.version === '2.0-1')!;
        m.sourcePackages.push({ ...other, suite: 'fixture' });
      },
      /^ferry: the lock pins source package hello 2\.0-1 \(fixture\/main\), but no signed Sources index of the spec's upstreams lists it in fixture\/main; /,
    );
  });

  it('refuses an extra file in a locked source package\'s file list (exit 67, one line, nothing written)', async () => {
    await refused(
      'out-extra-file',
      async (m) => {
        m.sourcePackages.find((s) => s.suite === 'fixture')!.files.push(await lockedFile(unindexed.find((f) => f.endsWith('.orig.tar.gz'))!));
      },
      /^ferry: http:.*\/pool\/main\/hello_0\.9\.orig\.tar\.gz: the lock pins hello_0\.9\.orig\.tar\.gz \(sha256 [0-9a-f]{64}, \d+ bytes\) as a file of source package hello 1\.0-1 \(fixture\/main\), but the signed Sources index does not list that file for it; /,
    );
  });

  it('refuses a source file whose sha256 and URL lead to a file the index does not list under that name (exit 67, one line, nothing written)', async () => {
    await refused(
      'out-swapped-file',
      async (m) => {
        const files = m.sourcePackages.find((s) => s.suite === 'fixture')!.files;
        const at = files.findIndex((f) => f.name === 'hello_1.0.orig.tar.gz');
        expect(at).toBeGreaterThanOrEqual(0);
        // the name the index gives, the bytes of the old tarball
        files[at] = await lockedFile(unindexed.find((f) => f.endsWith('.orig.tar.gz'))!, 'hello_1.0.orig.tar.gz');
      },
      /^ferry: http:.*\/pool\/main\/hello_0\.9\.orig\.tar\.gz: the lock pins hello_1\.0\.orig\.tar\.gz \(sha256 [0-9a-f]{64}, \d+ bytes\) as a file of source package hello 1\.0-1 \(fixture\/main\), but the signed Sources index does not list that file for it; /,
    );
  });

  it('refuses a source package without one of the files the index lists for it (exit 67, one line, nothing written)', async () => {
    await refused(
      'out-missing-file',
      (m) => {
        const sp = m.sourcePackages.find((s) => s.suite === 'fixture')!;
        sp.files = sp.files.filter((f) => !f.name.endsWith('.debian.tar.xz'));
      },
      /^ferry: the lock pins source package hello 1\.0-1 \(fixture\/main\) without hello_1\.0-1\.debian\.tar\.xz, a file the signed Sources index lists for it; /,
    );
  });

  it('refuses a source package or a .deb moved to another component than the signed index that lists it (exit 67, one line, nothing written)', async () => {
    await refused(
      'out-source-component',
      (m) => {
        m.sourcePackages.find((s) => s.suite === 'fixture')!.component = 'contrib';
      },
      /^ferry: the lock pins source package hello 1\.0-1 \(fixture\/contrib\), but no signed Sources index of the spec's upstreams lists it in fixture\/contrib; /,
    );
    await refused(
      'out-deb-component',
      (m) => {
        m.packages.find((p) => p.suite === 'fixture')!.component = 'contrib';
      },
      /^ferry: http:.*\/pool\/main\/hello_1\.0-1_amd64\.deb: the lock publishes hello 1\.0-1 amd64 in component contrib, but the signed Packages index that lists that file is component main's; /,
    );
  });

  it('refuses a lock that leaves out the source package of a .deb it publishes, with sources: true (exit 67, one line, nothing written)', async () => {
    await refused(
      'out-no-source',
      (m) => {
        m.sourcePackages = m.sourcePackages.filter((s) => s.suite !== 'other');
      },
      /^ferry: http:.*\/pool\/main\/hello_2\.0-1_amd64\.deb: the lock pins hello 2\.0-1 amd64 \(other\/main\), built from source hello 2\.0-1, but no source package hello 2\.0-1 of other, which "sources: true" publishes; /,
    );
  });

  it('refuses a lock whose source packages do not follow the spec\'s sources: (exit 65, one line, nothing written)', async () => {
    const specText = await readFile(spec, 'utf8');
    const cases: Array<[string, string, (m: ReturnType<typeof mirrorOf>) => void, RegExp]> = [
      // the spec does not ask for sources: the lock's (true, signed) ones would still be published
      ['out-spec-no-sources', specText.replace(/^ {6}sources: true\n/m, ''), () => {}, /^ferry: lock: mirrors\.apt\.debian: the lock pins source packages, the spec gives "sources: false"; /],
      // the spec asks for them: a lock without any would publish a mirror without sources
      ['out-lock-no-sources', specText, (m) => void delete (m as { sourcePackages?: unknown }).sourcePackages, /^ferry: lock: mirrors\.apt\.debian: the lock pins no source packages, the spec gives "sources: true"; /],
    ];
    expect(cases[0]![1]).not.toBe(specText);
    for (const [outName, text, edit, message] of cases) {
      const lock = JSON.parse(written);
      edit(mirrorOf(lock));
      await writeFile(lockFile, JSON.stringify(lock, null, 2));
      await writeFile(spec, text);
      try {
        const out = join(dir, outName);
        const r = await build(out, await mkdtemp(join(dir, 'cache-refused-')));
        expect(r.code, r.stderr).toBe(65);
        expect(ferryLines(r.stderr)).toEqual([expect.stringMatching(message)]);
        expect(await readdir(out).catch(() => [])).toEqual([]);
      } finally {
        await writeFile(lockFile, written);
        await writeFile(spec, specText);
      }
    }
  });

  it('a warm build of a newer lock builds though the cache keeps older signed Releases, which list none of its new files (last: it moves the upstream on)', async () => {
    await writeUpstream(join(dir, 'upstream'), [await buildDeb(join(dir, 'v3'), { name: 'hello', version: '3.0-1' })], { suite: 'fixture', key: upstreamKeyPrivate, sources: await buildSource(join(dir, 'v3'), { name: 'hello', version: '3.0-1' }) });
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache-new')]);
    expect(l.code, l.stderr).toBe(0);
    expect(mirrorOf(JSON.parse(await readFile(lockFile, 'utf8'))).sourcePackages.map((s) => `${s.name} ${s.version} ${s.suite}`)).toContain('hello 3.0-1 fixture');
    // the cache of the first lock keeps fixture's old signed Release, which lists no 3.0-1
    const b = await build(join(dir, 'out-warm'));
    expect(b.code, b.stderr).toBe(0);
  });
});
