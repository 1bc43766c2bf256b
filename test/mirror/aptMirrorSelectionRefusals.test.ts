import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, writeUpstream } from '../apt/fixtureUpstream.js';
import { aptMirrorSpec, debianMirror, mirrorEditRefusals } from './mirrorChecks.js';
import type { AptMirrorLock, LockedMirrorDeb } from '../../src/sources/apt/lockAptMirror.js';

type MirrorLock = Pick<AptMirrorLock, 'sources' | 'packages'>;

/**
 * build --locked proves that the lock's .debs are exactly what the spec's filter selects from the signed
 * indexes the lock was made from (kept in the cache by ferry lock, or still served), else from the upstream's
 * current ones: a lock edited to drop the security update, hold a package at an older version the signed index
 * still lists, or add one the filter does not select is refused (exit 67, one line, nothing fetched or written).
 */
describe('apt mirror: build --locked refuses a lock whose selection is not what the spec selects from the signed indexes', () => {
  let dir: string;
  let root: string;
  let spec: string;
  let lockFile: string;
  let written: string;
  let served: Awaited<ReturnType<typeof serveDir>>;
  let upstreamKey: Awaited<ReturnType<typeof readPrivate>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  let libssl11: string;

  const build = (out: string, cache: string) => ferry(['build', spec, '--locked', '--key', bundleKey.secret, '--out', out, '--cache', cache]);
  /** the upstream's `suite` gets these .debs (its own pool, copied into the upstream's; Release signed now) */
  const publishSuite = async (suite: string, debs: string[]) => {
    const other = await mkdtemp(join(dir, `suite-${suite}-`));
    await writeUpstream(other, debs, { suite, key: upstreamKey });
    await rm(join(root, 'dists', suite), { recursive: true, force: true });
    await cp(join(other, 'dists', suite), join(root, 'dists', suite), { recursive: true });
    await cp(join(other, 'pool/main'), join(root, 'pool/main'), { recursive: true });
  };
  /** the stanza of NAME VERSION in the upstream's signed Packages index of `suite`, as the lock pins it */
  const stanza = async (suite: string, name: string, version: string): Promise<LockedMirrorDeb> => {
    const text = gunzipSync(await readFile(join(root, 'dists', suite, 'main/binary-amd64/Packages.gz'))).toString('utf8');
    const p = text.split('\n\n').map((s) => new Map(s.split('\n').flatMap((l) => (/^[A-Za-z0-9-]+: /.test(l) ? [[l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)] as [string, string]] : [])))).find((f) => f.get('Package') === name && f.get('Version') === version)!;
    return { name, version, architecture: p.get('Architecture')!, suite, component: 'main', url: `${served.url}/${p.get('Filename')}`, size: Number(p.get('Size')), sha256: p.get('SHA256')!, priority: p.get('Priority')! };
  };
  /** build with the lock as `edit` changes it, with `cache` (a fresh empty one when not given): refused in one line matching `message` */
  const refused = mirrorEditRefusals<MirrorLock>(() => ({ dir, lockFile, written, served, build }));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-selection-${process.pid}-`));
    const upstream = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    upstreamKey = await readPrivate(upstream.secretArmored);
    root = join(dir, 'upstream');
    // fixture lists hello 1.0 and 2.0 (keep: 1 selects 2.0), libssl 1.0 and extra (which the filter leaves out);
    // security lists libssl 1.1, the security update
    await writeUpstream(
      root,
      [
        await buildDeb(join(dir, 'debs'), { name: 'hello', version: '1.0' }),
        await buildDeb(join(dir, 'debs'), { name: 'hello', version: '2.0' }),
        await buildDeb(join(dir, 'debs'), { name: 'libssl', version: '1.0' }),
        await buildDeb(join(dir, 'debs'), { name: 'extra', version: '1.0' }),
      ],
      { suite: 'fixture', key: upstreamKey },
    );
    served = await serveDir(root);
    libssl11 = await buildDeb(join(dir, 'sec1'), { name: 'libssl', version: '1.1' });
    await publishSuite('security', [libssl11]);
    spec = join(dir, 'mirror.yaml');
    lockFile = join(dir, 'mirror.lock.json');
    await writeFile(join(dir, 'upstream.asc'), upstream.publicArmored);
    await writeFile(spec, aptMirrorSpec('1.0.0', served.url, '{ packages: [hello, libssl] }').replace('suites: [fixture]', 'suites: [fixture, security]'));
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    written = await readFile(lockFile, 'utf8');
    expect(debianMirror<MirrorLock>(JSON.parse(written)).packages.map((p) => `${p.suite} ${p.name} ${p.version}`)).toEqual(['fixture hello 2.0', 'fixture libssl 1.0', 'security libssl 1.1']);
  });
  afterAll(async () => {
    await served?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('builds the lock as ferry lock wrote it, from its cache and from an empty one', async () => {
    const b = await build(join(dir, 'out-ok'), join(dir, 'cache'));
    expect(b.code, b.stderr).toBe(0);
    const empty = await build(join(dir, 'out-ok-empty'), await mkdtemp(join(dir, 'cache-empty-')));
    expect(empty.code, empty.stderr).toBe(0);
  });

  it('refuses a lock that drops the security update the filter selects (exit 67, one line, nothing fetched or written)', async () => {
    const message = /^ferry: lock: mirrors\.apt\.debian: suite security: the lock leaves out libssl 1\.1 amd64 \(main\), which the spec's filter selects from the upstream's signed indexes it was made from; /;
    await refused('out-dropped', (m) => void (m.packages = m.packages.filter((p) => p.suite !== 'security')), message);
    await refused('out-dropped-warm', (m) => void (m.packages = m.packages.filter((p) => p.suite !== 'security')), message, join(dir, 'cache'));
  });

  it('refuses a lock that holds a package at an older version its signed index still lists (exit 67, one line, nothing fetched or written)', async () => {
    const older = await stanza('fixture', 'hello', '1.0');
    await refused(
      'out-held-back',
      (m) => void (m.packages = m.packages.map((p) => (p.name === 'hello' ? older : p))),
      /^ferry: lock: mirrors\.apt\.debian: suite fixture: the lock holds back hello amd64 \(main\) at 1\.0, where the spec's filter selects 2\.0 from the upstream's signed indexes it was made from; /,
    );
  });

  it('refuses a lock that adds a package of the signed index the filter does not select (exit 67, one line, nothing fetched or written)', async () => {
    const extra = await stanza('fixture', 'extra', '1.0');
    await refused(
      'out-added',
      (m) => void m.packages.push(extra),
      /^ferry: lock: mirrors\.apt\.debian: suite fixture: the lock adds extra 1\.0 amd64 \(main\), which the spec's filter does not select from the upstream's signed indexes it was made from; /,
    );
  });

  it('refuses a lock that names another signer of a suite than the key that signed the Release it was made from (exit 67, one line, nothing fetched or written)', async () => {
    await refused(
      'out-signers',
      (m) => void (m.sources.find((s) => s.suite === 'security')!.signers = ['0'.repeat(40)]),
      /^ferry: lock: mirrors\.apt\.debian: http:\/\/127\.0\.0\.1:\d+ security: the lock gives the signers \["0{40}"\], the signed Release it was made from is signed by \["[0-9A-F]{40}"\] \(checked against the spec's keyring\); /,
    );
  });

  it('verifies the Releases with the spec\'s keyring, whatever signers the lock gives: a keyring without the upstream\'s key refuses the lock\'s own Releases and the current ones (exit 66, one line, nothing fetched or written)', async () => {
    const other = await writeKey(await mkdtemp(join(dir, 'other-key-')), 'other');
    const trusted = await readFile(join(dir, 'upstream.asc'), 'utf8');
    await writeFile(join(dir, 'upstream.asc'), other.publicArmored);
    try {
      for (const cache of [join(dir, 'cache'), await mkdtemp(join(dir, 'cache-other-key-'))]) {
        const out = join(dir, `out-other-key-${cache === join(dir, 'cache') ? 'warm' : 'empty'}`);
        const asked = served.requests.length;
        const b = await build(out, cache);
        expect(b.code, b.stderr).toBe(66);
        expect(b.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([expect.stringMatching(/InRelease/)]);
        expect(await readdir(out).catch(() => [])).toEqual([]);
        expect(served.requests.slice(asked).filter((p) => p.startsWith('/pool/'))).toEqual([]);
      }
    } finally {
      await writeFile(join(dir, 'upstream.asc'), trusted);
    }
  });

  it('refuses a lock that names no Release it was made from, or one not at hand, when the current signed indexes select otherwise; a lock of the upstream before it moved on builds with the cache that kept its Releases (last: it moves the upstream on)', async () => {
    // the security suite moves on: libssl 1.2 beside 1.1, which its signed index still lists
    await publishSuite('security', [libssl11, await buildDeb(join(dir, 'sec2'), { name: 'libssl', version: '1.2' })]);
    // the lock of before, with the cache ferry lock filled: proven by the Releases it was made from
    const warm = await build(join(dir, 'out-moved-warm'), join(dir, 'cache'));
    expect(warm.code, warm.stderr).toBe(0);
    // from an empty cache, those Releases are not at hand: the current ones select libssl 1.2
    const current = /^ferry: lock: mirrors\.apt\.debian: suite security: the lock holds back libssl amd64 \(main\) at 1\.1, where the spec's filter selects 1\.2 from the upstream's current signed indexes \(those it was made from are not at hand\); /;
    await refused('out-moved-empty', () => undefined, current);
    // a lock that drops the Releases it names is checked against the current ones, even with the cache
    await refused('out-no-release', (m) => m.sources.forEach((s) => delete s.release), current, join(dir, 'cache'));
    expect((await readdir(join(dir, 'out-moved-warm'))).filter((f) => f.endsWith('.ferry'))).toHaveLength(1);
  });
});
