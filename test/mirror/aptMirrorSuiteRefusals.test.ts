import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, signRelease, writeUpstream } from '../apt/fixtureUpstream.js';
import { aptMirrorSpec, debianMirror, mirrorEditRefusals, refusedEditedLock } from './mirrorChecks.js';

interface LockedSuite {
  suite: string;
  date: string;
  pin?: number;
  releaseSuite?: string;
  codename?: string;
}
interface LockedDeb {
  name: string;
  version: string;
  suite: string;
  priority?: string;
}
type MirrorLock = { suites: LockedSuite[]; packages: LockedDeb[] };

describe('apt mirror: build --locked publishes each suite\'s date, pin, Suite and Codename only as the upstream\'s signed Release gives them', () => {
  let dir: string;
  let root: string;
  let spec: string;
  let lockFile: string;
  let written: string;
  let served: Awaited<ReturnType<typeof serveDir>>;
  let upstreamKey: Awaited<ReturnType<typeof readPrivate>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  const closers: Array<() => Promise<void>> = [];

  const build = (out: string, cache: string) => ferry(['build', spec, '--locked', '--key', bundleKey.secret, '--out', out, '--cache', cache]);
  const mirrorOf = debianMirror<MirrorLock>;
  /** the upstream's Release of `suite` written again by apt-ftparchive with these options and signed by its key */
  const release = async (suite: string, options: string[]) => {
    const dist = join(root, 'dists', suite);
    const packages = gunzipSync(await readFile(join(dist, 'main/binary-amd64/Packages.gz')));
    await writeFile(join(dist, 'main/binary-amd64/Packages'), packages);
    const opts = ['Architectures=amd64', 'Components=main', ...options].flatMap((o) => ['-o', `APT::FTPArchive::Release::${o}`]);
    const text = execFileSync('apt-ftparchive', [...opts, 'release', '.'], { cwd: dist }).toString('utf8');
    await rm(join(dist, 'main/binary-amd64/Packages'));
    await signRelease(dist, text, upstreamKey);
  };
  /** an hour ago, as a Release Date (apt refuses one in the future) */
  const anHourAgo = () => new Date(Date.now() - 3600_000).toUTCString().replace(/GMT$/, 'UTC');
  /** Release options of the two suites: fixture is `stable`/`bookworm`, backports NotAutomatic + ButAutomaticUpgrades */
  const fixtureOptions = ['Suite=stable', 'Codename=bookworm'];
  const backportsOptions = ['Suite=bookworm-backports', 'Codename=bookworm-backports', 'NotAutomatic=yes', 'ButAutomaticUpgrades=yes'];
  /** build with the lock as `edit` changes it, from an empty cache: refused in one line matching `message` (exit 67), nothing in --out, and no file of the upstream's pool asked for */
  const refused = mirrorEditRefusals<MirrorLock>(() => ({ dir, lockFile, written, served, build }));
  /** the Release of `suite` in the bundle built in `out` */
  const bundleRelease = async (out: string, suite: string) => {
    const bundle = join(out, (await readdir(out)).find((f) => f.endsWith('.ferry'))!);
    return execFileSync('tar', ['-xOf', bundle, `mirrors/debian/debian/dists/${suite}/Release`]).toString('utf8');
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-suiteref-${process.pid}-`));
    const upstream = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    upstreamKey = await readPrivate(upstream.secretArmored);
    root = join(dir, 'upstream');
    // fixture lists hello 1.0; backports (written after, indexing the whole pool) lists 1.0 and 2.0
    await writeUpstream(root, [await buildDeb(join(dir, 'v1'), { name: 'hello', version: '1.0' })], { suite: 'fixture', key: upstreamKey });
    await writeUpstream(root, [await buildDeb(join(dir, 'v2'), { name: 'hello', version: '2.0' })], { suite: 'backports', key: upstreamKey });
    // both signed an hour ago: a Release signed again now is newer
    const date = anHourAgo();
    await release('fixture', [...fixtureOptions, `Date=${date}`]);
    await release('backports', [...backportsOptions, `Date=${date}`]);
    served = await serveDir(root);
    closers.push(served.close);
    spec = join(dir, 'mirror.yaml');
    lockFile = join(dir, 'mirror.lock.json');
    await writeFile(join(dir, 'upstream.asc'), upstream.publicArmored);
    await writeFile(spec, aptMirrorSpec('1.0.0', served.url, '{ packages: [hello] }').replace('suites: [fixture]', 'suites: [fixture, backports]'));
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    written = await readFile(lockFile, 'utf8');
    const m = mirrorOf(JSON.parse(written));
    const at = new Date(Date.parse(date.replace(/UTC$/, 'GMT'))).toISOString();
    expect(m.suites).toEqual([
      { suite: 'backports', date: at, pin: 100, releaseSuite: 'bookworm-backports', codename: 'bookworm-backports' },
      { suite: 'fixture', date: at, releaseSuite: 'stable', codename: 'bookworm' },
    ]);
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('builds the lock as ferry lock wrote it', async () => {
    const out = join(dir, 'out-ok');
    const b = await build(out, join(dir, 'cache'));
    expect(b.code, b.stderr).toBe(0);
    expect((await bundleRelease(out, 'backports')).split('\n').filter((l) => /^(Suite|Codename|NotAutomatic|ButAutomaticUpgrades):/.test(l))).toEqual([
      'Suite: bookworm-backports',
      'Codename: bookworm-backports',
      'NotAutomatic: yes',
      'ButAutomaticUpgrades: yes',
    ]);
  });

  it('its SBOM gives each .deb the Codename of the suite hosts take it from as distro=, and the bundle imports (the SBOM matches the manifest)', async () => {
    const bundle = join(dir, 'out-ok', (await readdir(join(dir, 'out-ok'))).find((f) => f.endsWith('.ferry'))!);
    const sbom = await ferry(['sbom', bundle, '--keyring', bundleKey.public]);
    expect(sbom.code, sbom.stderr).toBe(0);
    const purls = (JSON.parse(sbom.stdout) as { components: Array<{ purl?: string }> }).components.flatMap((c) => (c.purl?.startsWith('pkg:deb/') ? [c.purl] : []));
    // hello 1.0, which both suites list, once: of fixture (Codename bookworm), not of the NotAutomatic backports
    expect(purls.sort()).toEqual(['pkg:deb/debian/hello@1.0?arch=amd64&distro=bookworm', 'pkg:deb/debian/hello@2.0?arch=amd64&distro=bookworm-backports']);
    const imp = await ferry(['import', bundle, '--keyring', bundleKey.public, '--store', await mkdtemp(join(dir, 'store-'))]);
    expect(imp.code, imp.stderr).toBe(0);
  });

  it('refuses a lock that drops or changes a suite\'s NotAutomatic pin (exit 67, one line, nothing fetched or written)', async () => {
    await refused(
      'out-no-pin',
      (m) => void delete m.suites.find((s) => s.suite === 'backports')!.pin,
      /^ferry: lock: mirrors\.apt\.debian: suite backports: the lock gives pin 500, the upstream's signed Release gives 100 \(NotAutomatic, ButAutomaticUpgrades\); /,
    );
    await refused(
      'out-pin-1',
      (m) => void (m.suites.find((s) => s.suite === 'backports')!.pin = 1),
      /^ferry: lock: mirrors\.apt\.debian: suite backports: the lock gives pin 1, the upstream's signed Release gives 100 /,
    );
    await refused(
      'out-pin-added',
      (m) => void (m.suites.find((s) => s.suite === 'fixture')!.pin = 1),
      /^ferry: lock: mirrors\.apt\.debian: suite fixture: the lock gives pin 1, the upstream's signed Release gives 500 /,
    );
  });

  it('refuses a lock that gives a suite another Codename or Suite than its signed Release (exit 67, one line, nothing fetched or written)', async () => {
    await refused(
      'out-codename',
      (m) => void (m.suites.find((s) => s.suite === 'backports')!.codename = 'bookworm'),
      /^ferry: lock: mirrors\.apt\.debian: suite backports: the lock gives codename bookworm, the upstream's signed Release gives bookworm-backports /,
    );
    await refused(
      'out-release-suite',
      (m) => void delete m.suites.find((s) => s.suite === 'fixture')!.releaseSuite,
      /^ferry: lock: mirrors\.apt\.debian: suite fixture: the lock gives releaseSuite none, the upstream's signed Release gives stable /,
    );
  });

  it('refuses a lock that dates a suite after its signed Release (exit 67, one line, nothing fetched or written)', async () => {
    const signed = mirrorOf(JSON.parse(written)).suites.find((s) => s.suite === 'fixture')!.date;
    const later = new Date(Date.parse(signed) + 1000).toISOString();
    await refused(
      'out-date-later',
      (m) => void (m.suites.find((s) => s.suite === 'fixture')!.date = later),
      new RegExp(`^ferry: lock: mirrors\\.apt\\.debian: suite fixture: the lock gives date ${later.replace(/\./g, '\\.')}, the upstream's signed Release gives ${signed.replace(/\./g, '\\.')} `),
    );
    await refused('out-date-2099', (m) => void (m.suites.find((s) => s.suite === 'backports')!.date = '2099-01-01T00:00:00.000Z'), /^ferry: lock: mirrors\.apt\.debian: suite backports: the lock gives date 2099-01-01T00:00:00\.000Z, /);
  });

  it('refuses a lock that leaves out a suite of an upstream the spec names, with its packages (exit 65, one line, nothing fetched or written)', async () => {
    const lock = JSON.parse(written);
    const m = mirrorOf(lock);
    m.suites = m.suites.filter((s) => s.suite !== 'backports');
    m.packages = m.packages.filter((p) => p.suite !== 'backports');
    await writeFile(lockFile, JSON.stringify(lock, null, 2));
    try {
      const out = join(dir, 'out-no-backports');
      const asked = served.requests.length;
      const r = await build(out, await mkdtemp(join(dir, 'cache-refused-')));
      expect(r.code, r.stderr).toBe(65);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
        'ferry: lock: mirrors.apt.debian: the lock publishes the suites ["fixture"], the spec gives ["fixture","backports"]; run ferry lock again and review the diff',
      ]);
      expect(await readdir(out).catch(() => [])).toEqual([]);
      expect(served.requests.slice(asked)).toEqual([]);
    } finally {
      await writeFile(lockFile, written);
    }
  });

  it('refuses a lock that gives a .deb another Priority than the signed Packages index, naming both (exit 67, one line, nothing fetched or written)', async () => {
    await refused(
      'out-priority',
      (m) => void (m.packages.find((p) => p.suite === 'fixture')!.priority = 'required'),
      /^ferry: http:.*\/pool\/main\/hello_1\.0_amd64\.deb: the lock pins hello 1\.0 amd64 with Priority required, but no signed Packages index of the spec's upstreams lists that file with it: fixture\/main's gives Priority "optional"; /,
    );
  });

  it('holds the date of a suite whose signed Release gives no Date to the bundle epoch, which ferry lock writes then (exit 67, one line)', async () => {
    const dateless = join(dir, 'upstream-dateless');
    await writeUpstream(dateless, [await buildDeb(join(dir, 'dateless'), { name: 'hello', version: '1.0' })], { suite: 'fixture', key: upstreamKey });
    const dist = join(dateless, 'dists/fixture');
    await signRelease(dist, (await readFile(join(dist, 'Release'), 'utf8')).replace(/^Date: .*\n/m, ''), upstreamKey);
    const server = await serveDir(dateless);
    closers.push(server.close);
    const datelessSpec = join(await mkdtemp(join(dir, 'spec-dateless-')), 'mirror.yaml');
    await writeFile(datelessSpec, aptMirrorSpec('1.0.0', server.url, '{ packages: [hello] }'));
    await writeFile(join(datelessSpec, '../upstream.asc'), (await readFile(join(dir, 'upstream.asc'))).toString('utf8'));
    const l = await ferry(['lock', datelessSpec, '--cache', join(dir, 'cache-dateless')]);
    expect(l.code, l.stderr).toBe(0);
    const datelessLock = datelessSpec.replace(/\.yaml$/, '.lock.json');
    const good = await readFile(datelessLock, 'utf8');
    expect(mirrorOf(JSON.parse(good)).suites).toEqual([{ suite: 'fixture', date: '2026-11-25T00:00:00.000Z' }]);
    const buildDateless = async (out: string) => ferry(['build', datelessSpec, '--locked', '--key', bundleKey.secret, '--out', out, '--cache', await mkdtemp(join(dir, 'cache-dateless-'))]);
    const ok = await buildDateless(join(dir, 'out-dateless'));
    expect(ok.code, ok.stderr).toBe(0);
    const out = join(dir, 'out-dateless-later');
    await refusedEditedLock(
      { lockFile: datelessLock, written: good, out, served: server, build: () => buildDateless(out) },
      (lock) => void (mirrorOf(lock).suites[0]!.date = '2026-11-25T00:00:01.000Z'),
      /^ferry: lock: mirrors\.apt\.debian: suite fixture: the lock gives date 2026-11-25T00:00:01\.000Z, the upstream's signed Release gives 2026-11-25T00:00:00\.000Z /,
    );
  });

  it('builds a lock made before the upstream signed its Releases again (only a newer Date), from an empty cache and from one that kept the older Releases (last: it moves the upstream on)', async () => {
    // a cache that kept the Releases of an hour ago (this lock's), as a build keeps them
    const old = join(dir, 'cache-old');
    const b0 = await build(join(dir, 'out-old-cache'), old);
    expect(b0.code, b0.stderr).toBe(0);
    await release('fixture', fixtureOptions);
    await release('backports', backportsOptions);
    // the lock of an hour ago, against the Releases signed now: its date is older, which it may be
    const b = await build(join(dir, 'out-older-lock'), await mkdtemp(join(dir, 'cache-empty-')));
    expect(b.code, b.stderr).toBe(0);
    expect(await bundleRelease(join(dir, 'out-older-lock'), 'fixture')).toContain(`Date: ${new Date(mirrorOf(JSON.parse(written)).suites[1]!.date).toUTCString().replace(/GMT$/, 'UTC')}`);
    // a lock made now, built with the cache that kept the Releases of an hour ago: read from the upstream again
    const l1 = await ferry(['lock', spec, '--cache', join(dir, 'cache-new')]);
    expect(l1.code, l1.stderr).toBe(0);
    expect(mirrorOf(JSON.parse(await readFile(lockFile, 'utf8'))).suites[1]!.date).not.toBe(mirrorOf(JSON.parse(written)).suites[1]!.date);
    const warm = await build(join(dir, 'out-newer-lock'), old);
    expect(warm.code, warm.stderr).toBe(0);
  });
});
