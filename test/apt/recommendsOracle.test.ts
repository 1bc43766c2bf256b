import { createReadStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackageIndex, type PackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { resolveAptClosure } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, writeUpstream, type FixtureDeb } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';

/**
 * The oracle for `recommends: true`: ferry's closure against `apt-get install --simulate
 * --install-recommends` on a generated repository, for Recommends that clash with what is being
 * installed, that fail deeper down, that are missing or virtual.
 */
const REPO: FixtureDeb[] = [
  // a Recommends whose pick conflicts with a Depends of the same package, either way round
  { name: 'recc-user', version: '1', recommends: 'recc-x', depends: 'recc-y' },
  { name: 'recc-x', version: '1', conflicts: 'recc-y' },
  { name: 'recc-y', version: '1' },
  { name: 'recd-user', version: '1', recommends: 'recd-x', depends: 'recd-y' },
  { name: 'recd-x', version: '1' },
  { name: 'recd-y', version: '1', breaks: 'recd-x' },
  // a Recommends whose own dependency conflicts with the package recommending it
  { name: 'rece-user', version: '1', recommends: 'rece-m' },
  { name: 'rece-m', version: '1', depends: 'rece-x' },
  { name: 'rece-x', version: '1', conflicts: 'rece-user' },
  // followed with their own closure; missing and unsatisfiable ones skipped; a virtual with two providers
  { name: 'rec-user', version: '1', recommends: 'rec-a, rec-missing, rec-v, recb-broken' },
  { name: 'rec-a', version: '1', depends: 'rec-dep' },
  { name: 'rec-dep', version: '1' },
  { name: 'rec-p1', version: '1', provides: 'rec-v' },
  { name: 'rec-p2', version: '1', provides: 'rec-v' },
  { name: 'recb-broken', version: '1', depends: 'nowhere' },
  // an alternative whose own Breaks hit its own dependency (recf-pick), directly or below (recf-top): apt marks
  // them all, counts the Recommends met, then its problem resolver drops them; the next alternative is not
  // tried. As a Depends (recf-dep-user), the next alternative is installed
  { name: 'recf-user', version: '1', recommends: 'recf-pick | recf-other' },
  { name: 'recf-deep-user', version: '1', recommends: 'recf-top | recf-other' },
  { name: 'recf-dep-user', version: '1', depends: 'recf-pick | recf-other' },
  { name: 'recf-top', version: '1', depends: 'recf-pick' },
  { name: 'recf-pick', version: '1', depends: 'recf-dep', breaks: 'recf-dep' },
  { name: 'recf-dep', version: '1' },
  { name: 'recf-other', version: '1' },
];
const SETS = ['recc-user', 'recd-user', 'rece-user', 'rec-user', 'recf-user', 'recf-deep-user', 'recf-dep-user'];

function installs(stdout: string): string[] {
  return [...stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]!.replace(/:\S+$/, '')} ${m[2]}`).sort();
}

describe('Recommends: ferry follows them as apt-get --install-recommends does', () => {
  let server: Awaited<ReturnType<typeof serveDir>>;
  let index: PackageIndex;
  let empty: Awaited<ReturnType<typeof privateApt>>;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-apt-rec-'));
    const key = await writeKey(dir, 'upstream');
    const priv = await readPrivate(key.secretArmored);
    const debs: string[] = [];
    for (const d of REPO) debs.push(await buildDeb(dir, d));
    const root = join(dir, 'upstream');
    await writeUpstream(root, debs, { suite: 'rec', key: priv });
    server = await serveDir(root);
    const packages: AptPackage[] = [];
    const gz = join(root, 'dists/rec/main/binary-amd64/Packages.gz');
    for await (const p of readPackagesIndex(createReadStream(gz).pipe(createGunzip()), { uri: server.url, suite: 'rec', component: 'main' }, gz)) packages.push(p);
    index = buildPackageIndex(packages, 'amd64');
    empty = await privateApt(`deb [signed-by=${key.public}] ${server.url} rec main`);
    const u = await empty.aptGet('update');
    expect(u.code, u.stderr).toBe(0);
  });
  afterAll(() => server?.close());

  const ours = (set: string[]) =>
    resolveAptClosure(index, set, { recommends: true, installed: new Map() }).map((p) => `${p.name} ${p.version}`).sort();

  it.each(SETS.map((n) => [n]))('%s with Recommends', async (name) => {
    const sim = await empty.aptGet('install', '--simulate', '--install-recommends', name);
    expect(sim.code, sim.stdout + sim.stderr).toBe(0);
    expect(ours([name])).toEqual(installs(sim.stdout));
  });

  it('a Recommends that would clash is skipped, the rest followed', () => {
    expect(ours(['recc-user'])).toEqual(['recc-user 1', 'recc-y 1']);
    expect(ours(['recd-user'])).toEqual(['recd-user 1', 'recd-y 1']);
    expect(ours(['rec-user'])).toEqual(['rec-a 1', 'rec-dep 1', 'rec-p2 1', 'rec-user 1']);
    expect(ours(['recf-user'])).toEqual(['recf-user 1']);
    expect(ours(['recf-deep-user'])).toEqual(['recf-deep-user 1']);
    expect(ours(['recf-dep-user'])).toEqual(['recf-dep-user 1', 'recf-other 1']);
  });
});
