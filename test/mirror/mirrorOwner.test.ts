import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/bundle/manifest.js';
import { refuseForeignMirrors, switchMirror, syncMirrorLinks } from '../../src/store/syncMirrorLinks.js';
import { writeRelease } from '../deploy/storeFixture.js';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildWheels, hostPython, PIP_OFFLINE_ENV, runCommand, serveFixtureIndex, type FixtureIndex } from '../python/fixtures.js';
import { spawnServe } from '../serve/spawnServe.js';

const host = hostPython();

/**
 * A signing policy trusts keys per release name; a mirror name is no release name. A release of another
 * name (its signer trusted for that name only) that carries mirror `pypi` with a newer epoch moved
 * /mirrors/pypi/ to its own packages, and one of the same version took `pypi@VERSION`. A mirror name now
 * belongs to the one release name that carries it: import refuses the other (71, one line, nothing
 * imported), and what is served stays the owner's.
 */
describe('a mirror name belongs to one release name', () => {
  let dir: string;
  let upstream: FixtureIndex;
  let key: Awaited<ReturnType<typeof writeKey>>;
  const store = () => join(dir, 'store');

  const build = async (name: string, version: string, epoch: string) => {
    const spec = join(dir, `${name}.yaml`);
    await writeFile(
      spec,
      [`name: ${name}`, `version: ${version}`, `epoch: ${epoch}`, 'mirrors:', '  python:', '    pypi:', `      index: "${upstream.url}"`, '      projects: [webapp]', '      targets:', `        - { version: "${host.version}", platforms: [manylinux_2_36_${host.machine}] }`, ''].join('\n'),
    );
    const lock = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(lock.code, lock.stderr).toBe(0);
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache')]);
    expect(b.code, b.stderr).toBe(0);
    return join(dir, 'out', `${name}-${version}.ferry`);
  };
  const imp = (bundle: string) => ferry(['import', bundle, '--keyring', key.public, '--store', store()]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirrorowner-${process.pid}-`));
    const wheels = join(dir, 'wheels');
    buildWheels(wheels, [{ name: 'webapp', version: '1.0' }]);
    upstream = await serveFixtureIndex(wheels);
    key = await writeKey(dir, 'bundle');
    await build('pymirror', '1.0.0', '2026-11-25T00:00:00Z');
    // the intruder's snapshot has a newer webapp, under a newer epoch and under the owner's version too
    buildWheels(wheels, [{ name: 'webapp', version: '6.6' }]);
    await build('intruder', '1.0.0', '2026-11-26T00:00:00Z');
    await build('intruder', '2.0.0', '2026-11-27T00:00:00Z');
  });
  afterAll(async () => {
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('import refuses a release of another name that carries the mirror, in one line, and imports nothing of it', async () => {
    const own = await imp(join(dir, 'out', 'pymirror-1.0.0.ferry'));
    expect(own.code, own.stderr).toBe(0);
    expect(await readlink(join(store(), 'mirrors', 'pypi'))).toBe('pypi@1.0.0');
    const before = (await readdir(join(store(), 'bundles'))).sort();

    for (const version of ['2.0.0', '1.0.0']) {
      const r = await imp(join(dir, 'out', `intruder-${version}.ferry`));
      expect(r.code, r.stderr).toBe(71);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^ferry: .*intruder-${version.replace(/\./g, '\\.')}\\.ferry: mirror pypi belongs to release pymirror in this store; intruder ${version.replace(/\./g, '\\.')} may not carry it`));
    }
    expect((await readdir(join(store(), 'bundles'))).sort()).toEqual(before);
    expect(await readdir(join(store(), 'refs'))).toEqual(['pymirror']);
    expect(await readlink(join(store(), 'mirrors', 'pypi'))).toBe('pypi@1.0.0');
    const list = await ferry(['mirror', 'list', '--store', store()]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^\*\s+pypi\s+1\.0\.0\s+pymirror\s/m);
    expect(list.stdout).not.toMatch(/intruder/);

    // what the hosts' pip gets from the stable URL is still the owner's snapshot
    const serve = await spawnServe(['--store', store(), '--listen', '127.0.0.1:0']);
    try {
      const dest = await mkdtemp(join(dir, 'pip-'));
      const pip = await runCommand('python3', ['-m', 'pip', 'download', '--no-cache-dir', '--no-deps', '--index-url', `${serve.url}/mirrors/pypi/simple/`, '-d', dest, 'webapp'], PIP_OFFLINE_ENV);
      expect(pip.code, pip.stderr).toBe(0);
      expect(await readdir(dest)).toEqual(['webapp-1.0-py3-none-any.whl']);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('takes the other release once the owner\'s releases are gone', async () => {
    await rm(join(store(), 'refs', 'pymirror'), { recursive: true });
    const r = await imp(join(dir, 'out', 'intruder-2.0.0.ferry'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('/mirrors/pypi/ now serves 2.0.0');
    expect(await readlink(join(store(), 'mirrors', 'pypi'))).toBe('pypi@2.0.0');
  });
});

describe('mirror owners in a store where two release names carry one mirror', () => {
  let dir: string;
  const withMirror = (name: string, version: string, day: number) => ({
    name,
    version,
    epoch: `2026-11-${day}T00:00:00.000Z`,
    services: { web: { version, groups: ['web'], files: { 'a.txt': `${name} ${version}\n` } } },
    artifacts: { mirror: { apt: { debian: { suites: ['stable'] } } } },
  });
  const manifest = (name: string): Manifest => ({ format: 'ferry-bundle/1', name, version: '9', epoch: '2026-11-29T00:00:00.000Z', created_by: 'test', targets: {}, services: {}, artifacts: { mirror: { apt: { debian: {} } } }, entries: [] }) as unknown as Manifest;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirrorowner-units-${process.pid}-`));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps serving the owner the stable link names; a newer epoch or the same version of another name changes nothing', async () => {
    const store = join(dir, 'kept');
    const own = writeRelease(store, withMirror('site', '1', 21));
    await syncMirrorLinks(store);
    expect(await readlink(join(store, 'mirrors', 'debian'))).toBe('debian@1');
    // as two imports at once would leave it (each checked before the other's ref existed)
    writeRelease(store, withMirror('evil', '1', 22));
    writeRelease(store, withMirror('evil', '2', 23));
    const warnings: string[] = [];
    await syncMirrorLinks(store, { onInvalid: (f, why) => warnings.push(why) });
    expect(warnings).toEqual([]);
    expect(await readlink(join(store, 'mirrors', 'debian'))).toBe('debian@1');
    expect(await readlink(join(store, 'mirrors', 'debian@1'))).toBe(`../bundles/${own}/mirrors/debian`);
    expect((await readdir(join(store, 'mirrors'))).sort()).toEqual(['debian', 'debian@1']);
    await expect(refuseForeignMirrors(store, manifest('evil'), 'b.ferry')).rejects.toThrow(/^b\.ferry: mirror debian belongs to release site in this store; evil 9 may not carry it .*remove site's releases first$/);
    await expect(refuseForeignMirrors(store, manifest('site'), 'b.ferry')).resolves.toBeUndefined();
  });

  it('serves none while no owner is chosen, and ferry mirror switch chooses one', async () => {
    const store = join(dir, 'chosen');
    writeRelease(store, withMirror('site', '1', 21));
    const evil = writeRelease(store, withMirror('evil', '2', 22));
    const warnings: string[] = [];
    await syncMirrorLinks(store, { onInvalid: (f, why) => warnings.push(why) });
    expect(warnings).toEqual([expect.stringMatching(/^releases evil, site all carry mirror debian, .* serves none of them until ferry mirror switch debian VERSION chooses$/)]);
    expect((await readdir(join(store, 'mirrors'))).sort()).toEqual(['debian@1', 'debian@2']);
    await expect(refuseForeignMirrors(store, manifest('site'), 'b.ferry')).rejects.toThrow(/mirror debian belongs to release evil or site in this store; .*ferry mirror switch debian VERSION first$/);

    await switchMirror(store, 'debian', '2');
    await syncMirrorLinks(store);
    expect(await readlink(join(store, 'mirrors', 'debian'))).toBe('debian@2');
    expect((await readdir(join(store, 'mirrors'))).sort()).toEqual(['debian', 'debian@2']);
    expect(await readlink(join(store, 'mirrors', 'debian@2'))).toBe(`../bundles/${evil}/mirrors/debian`);
  });
});

describe('a mirror no release name owns, whose snapshots of two names share a version', () => {
  it('links neither as NAME@VERSION (the later name in sort order took it), so mirror switch cannot choose the other name\'s by that version', async () => {
    const dir = await mkdtemp(join(tmpdir(), `ferry-mirrorowner-version-${process.pid}-`));
    try {
      const store = join(dir, 'store');
      const withMirror = (name: string, day: number) => ({ name, version: '1', epoch: `2026-11-${day}T00:00:00.000Z`, services: { web: { version: '1', groups: ['web'], files: { 'a.txt': `${name}\n` } } }, artifacts: { mirror: { apt: { debian: { suites: ['stable'] } } } } });
      // as two imports at once would leave it (each checked before the other's ref existed)
      writeRelease(store, withMirror('site', 21));
      writeRelease(store, withMirror('zzz', 22));
      const warnings: string[] = [];
      await syncMirrorLinks(store, { onInvalid: (f, why) => warnings.push(why) });
      expect(await readdir(join(store, 'mirrors'))).toEqual([]);
      expect(warnings).toContainEqual(expect.stringMatching(/^releases site, zzz all carry mirror debian as version 1: \/mirrors\/debian@1\/ serves neither; remove one of them \(ferry gc, or its ref\) to serve the other$/));
      await expect(switchMirror(store, 'debian', '1')).rejects.toThrow(/mirror debian has no snapshot 1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
