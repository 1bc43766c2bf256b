import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptKind } from '../../src/sources/apt/aptKind.js';
import { context, materialize } from './aptSetup.js';
import { buildDeb, readPrivate, serveDir, signRelease } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';
import { writeKey } from '../helpers/keys.js';

/**
 * apt's flat repositories (`deb URI ./`, `deb URI sub/`: a suite ending in "/", no components): the signed
 * Release and one Packages index sit in URI/SUITE, and each Filename is relative to URI. apt-get installs
 * from them; ferry must lock the same closure from the same upstream and publish it so that apt-get
 * installs it from the bundle.
 */
describe('flat repositories, as apt-get reads them', () => {
  let dir: string;
  let up: Awaited<ReturnType<typeof serveDir>>;
  let upstreamKey: Awaited<ReturnType<typeof writeKey>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-apt-flat-'));
    upstreamKey = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    const key = await readPrivate(upstreamKey.secretArmored);
    const root = join(dir, 'upstream');
    // ./ at the root: flatapp 1 -> flatlib; sub/: flatapp 2 -> flatlib (>= 2), and an arm64 package apt ignores on amd64
    const sets = {
      '.': [{ name: 'flatapp', version: '1', depends: 'flatlib' }, { name: 'flatlib', version: '1' }],
      sub: [{ name: 'flatapp', version: '2', depends: 'flatlib (>= 2)' }, { name: 'flatlib', version: '2' }, { name: 'flatlib', version: '3', arch: 'arm64' }],
    };
    for (const [folder, debs] of Object.entries(sets)) {
      await mkdir(join(root, folder), { recursive: true });
      for (const d of debs) {
        const deb = await buildDeb(join(dir, folder), d);
        await copyFile(deb, join(root, folder, deb.split('/').pop()!));
      }
      // Filename relative to the URI, as apt takes it for a flat repository
      const packages = execFileSync('apt-ftparchive', ['packages', folder], { cwd: root });
      await writeFile(join(root, folder, 'Packages'), packages);
      await writeFile(join(root, folder, 'Packages.gz'), gzipSync(packages));
      const release = execFileSync('apt-ftparchive', ['-o', 'APT::FTPArchive::Release::Origin=flat', 'release', '.'], { cwd: join(root, folder) }).toString('utf8');
      await signRelease(join(root, folder), release, key);
    }
    up = await serveDir(root);
  });
  afterAll(async () => {
    await up?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['./', ['flatapp 1', 'flatlib 1']],
    ['sub/', ['flatapp 2', 'flatlib 2']],
  ])('deb URI %s: apt-get installs from it; ferry locks the same, and apt-get installs that from the bundle', async (suite, want) => {
    const upstreamApt = await privateApt(`deb [signed-by=${upstreamKey.public}] ${up.url}/ ${suite}`);
    const update = await upstreamApt.aptGet('update');
    expect(update.code, update.stdout + update.stderr).toBe(0);
    const sim = await upstreamApt.simulate(['flatapp']);
    expect(sim.result.code, sim.result.stdout + sim.result.stderr).toBe(0);
    expect(sim.installs).toEqual(want);

    const raw = {
      targets: { debian: { suite: 'bookworm', architectures: ['amd64'] } },
      upstreams: { apt: [{ uri: up.url, suites: [suite], keyring: upstreamKey.public }] },
      services: { web: { version: '1', groups: ['web'], artifacts: { apt: ['flatapp'] } } },
    };
    const ctx = await context(dir, raw, bundleKey.secretArmored, join(dir, `cache-${suite.replace(/\W/g, '')}`));
    const lock = (await aptKind.lock(ctx))!;
    expect(lock.packages.map((p) => `${p.name} ${p.version}`)).toEqual(want);
    for (const p of lock.packages) expect(p.url).toMatch(new RegExp(`^${up.url}/${suite === './' ? '\\./' : 'sub/'}flat(app|lib)_`));
    const result = await aptKind.collect(lock, ctx);
    const repo = await serveDir(await materialize(result.entries, join(dir, `bundle-${suite.replace(/\W/g, '')}`)));
    try {
      const apt = await privateApt(`deb [signed-by=${bundleKey.public}] ${repo.url}/apt bookworm main`);
      const u = await apt.aptGet('update');
      expect(u.code, u.stdout + u.stderr).toBe(0);
      expect((await apt.simulate(['flatapp'])).installs).toEqual(want);
    } finally {
      await repo.close();
    }
  });
});
