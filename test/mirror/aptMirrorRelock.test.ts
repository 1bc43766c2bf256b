import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { modulesLoadedBy, packagesIn } from '../helpers/loadedModules.js';
import { aptMirrorSpec } from './mirrorChecks.js';
import { buildDeb, readPrivate, serveDir, writeUpstream, type FixtureDeb } from '../apt/fixtureUpstream.js';

const UPSTREAM: FixtureDeb[] = [
  { name: 'app', version: '1.0-1', depends: 'libfoo (>= 1.2)' },
  { name: 'libfoo', version: '1.3-1' },
  { name: 'tool', version: '2.0' },
  { name: 'unrelated', version: '9.9' },
];

/** Locking a mirror again (the weekly refresh): what an unchanged upstream costs, and that a changed one is never hidden. */
describe('apt mirror: locking again', () => {
  let dir: string;
  let upstream: Awaited<ReturnType<typeof serveDir>>;
  let upstreamKey: Awaited<ReturnType<typeof writeKey>>;
  let debs: string[];
  const cache = () => join(dir, 'cache');
  const lockFile = () => join(dir, 'mirror.lock.json');

  const writeSpec = (packages: string[]) =>
    writeFile(join(dir, 'mirror.yaml'), aptMirrorSpec('1.0.0', upstream.url, `{ packages: ${JSON.stringify(packages)}, with_dependencies: true }`));
  const lock = async () => {
    const r = await ferry(['lock', join(dir, 'mirror.yaml'), '--cache', cache()]);
    expect(r.code, r.stderr).toBe(0);
    const pkgs = JSON.parse(await readFile(lockFile(), 'utf8')).kinds.mirror.apt.debian.packages as Array<{ name: string; version: string }>;
    return pkgs.map((p) => `${p.name} ${p.version}`);
  };
  /** the cache without any index: a lock that needs one must download it again */
  const dropIndexes = async () => {
    await rm(join(cache(), 'apt-parsed'), { recursive: true, force: true });
    await rm(join(cache(), 'sha256'), { recursive: true, force: true });
    upstream.requests.length = 0;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-relock-${process.pid}-`));
    debs = [];
    for (const d of UPSTREAM) debs.push(await buildDeb(dir, d));
    upstreamKey = await writeKey(dir, 'upstream');
    await writeUpstream(join(dir, 'upstream'), debs, { suite: 'fixture', key: await readPrivate(upstreamKey.secretArmored) });
    upstream = await serveDir(join(dir, 'upstream'));
    await writeSpec(['app']);
  });
  afterAll(async () => {
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an unchanged upstream is locked from its verified InRelease alone: no index is read, the lock is the same', async () => {
    expect(await lock()).toEqual(['app 1.0-1', 'libfoo 1.3-1']);
    const before = await readFile(lockFile());
    await dropIndexes();
    expect(await lock()).toEqual(['app 1.0-1', 'libfoo 1.3-1']);
    expect(upstream.requests).toEqual(['/dists/fixture/InRelease']);
    expect(await readFile(lockFile())).toEqual(before);
  });

  it('another filter on the same upstream is selected from the indexes again', async () => {
    await writeSpec(['app', 'tool']);
    await dropIndexes();
    expect(await lock()).toEqual(['app 1.0-1', 'libfoo 1.3-1', 'tool 2.0']);
    expect(upstream.requests).toContain('/dists/fixture/main/binary-amd64/Packages.gz');
    await writeSpec(['app']);
  });

  it('a damaged earlier selection in the cache is computed again from the indexes', async () => {
    const entries = join(cache(), 'apt-mirror-lock', 'v1');
    for (const e of await readdir(entries)) await writeFile(join(entries, e), '{"key":"');
    await dropIndexes();
    expect(await lock()).toEqual(['app 1.0-1', 'libfoo 1.3-1']);
    expect(upstream.requests).toContain('/dists/fixture/main/binary-amd64/Packages.gz');
  });

  it('a build whose .debs the cache already holds (a refresh of an unchanged upstream) does not load the HTTP client', async () => {
    const key = await writeKey(dir, 'bundle');
    const build = ['build', join(dir, 'mirror.yaml'), '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', cache()];
    const first = await ferry(build);
    expect(first.code, first.stderr).toBe(0);
    expect(packagesIn(await modulesLoadedBy(build))).not.toContain('undici');
  });

  it('still refuses the same upstream state once its signer is no longer trusted', async () => {
    const other = await writeKey(dir, 'other');
    await writeFile(join(dir, 'upstream.asc'), other.publicArmored);
    try {
      const r = await ferry(['lock', join(dir, 'mirror.yaml'), '--cache', cache()]);
      expect(r.code).toBe(66);
      expect(r.stderr).toMatch(/InRelease/);
    } finally {
      await writeFile(join(dir, 'upstream.asc'), upstreamKey.publicArmored);
    }
  });

  it('a new upstream Release (a security update) is locked from its new indexes', async () => {
    debs.push(await buildDeb(dir, { name: 'libfoo', version: '1.3-2' }));
    await writeUpstream(join(dir, 'upstream'), debs, { suite: 'fixture', key: await readPrivate(upstreamKey.secretArmored) });
    upstream.requests.length = 0;
    expect(await lock()).toEqual(['app 1.0-1', 'libfoo 1.3-2']);
    expect(upstream.requests).toContain('/dists/fixture/main/binary-amd64/Packages.gz');
  });
});
