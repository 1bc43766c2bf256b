import { mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRelease } from '../../src/store/resolveRelease.js';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from '../deploy/storeFixture.js';

const release = (name: string, version: string) => ({ name, version, epoch: `2026-11-2${version}T00:00:00.000Z`, services: { web: { version, groups: ['web'], files: { 'a.txt': `${name} ${version}\n` } } } });

/** One damaged release (a manifest changed behind ferry's back) must not hide or block the others. */
describe('a damaged release in the store', () => {
  let dir: string;
  let store: string;
  const digests: Record<string, string> = {};
  const damage = async (digest: string) => {
    const file = join(store, 'bundles', digest, 'manifest.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"created_by":"', '"created_by":"x'));
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-damaged-release-'));
    store = join(dir, 'store');
    for (const [n, v] of [['app', '1'], ['app', '2'], ['other', '1']] as const) digests[`${n}/${v}`] = writeRelease(store, release(n, v));
    await damage(digests['other/1']!);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('ferry list lists the others, names it in one warning line, and exits 71', async () => {
    const r = await ferry(['list', '--store', store]);
    expect(r.code).toBe(71);
    expect(r.stdout).toMatch(/^app\s+1\s/m);
    expect(r.stdout).toMatch(/^app\s+2\s/m);
    expect(r.stdout).not.toMatch(/^other/m);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^warning: skipped a damaged release: release other/1: .*manifest\\.json does not hash to its folder name ${digests['other/1']} \\(its sha256 is [0-9a-f]{64}\\): the store is damaged; re-import the bundle$`))]);
    expect(r.stderr).toContain(`store ${store}: 1 damaged release(s) skipped (named above); re-import or remove them`);
    const json = await ferry(['list', '--store', store, '--json']);
    expect(JSON.parse(json.stdout).map((x: { name: string; version: string }) => `${x.name}/${x.version}`)).toEqual(['app/1', 'app/2']);
  });

  it('ferry mirror list lists the mirrors of the others, names it in one warning line, and exits 71', async () => {
    const copy = join(dir, 'mirrors');
    const withMirror = (name: string, version: string) => ({ ...release(name, version), artifacts: { mirror: { apt: { [name]: { suites: ['stable'] } } } } });
    writeRelease(copy, withMirror('debian', '1'));
    const bad = writeRelease(copy, withMirror('ubuntu', '2'));
    const file = join(copy, 'bundles', bad, 'manifest.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"created_by":"', '"created_by":"x'));
    const r = await ferry(['mirror', 'list', '--store', copy]);
    expect(r.code).toBe(71);
    expect(r.stdout).toMatch(/^\s*debian\s+1\s/m);
    expect(r.stdout).not.toMatch(/ubuntu/);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([expect.stringMatching(/^warning: skipped a damaged release: .*ubuntu.*does not hash to its folder name/)]);
    expect(r.stderr).toContain(`store ${copy}: 1 damaged release(s) skipped (named above); re-import or remove them`);
  });

  it('does not block resolving another release, and is the error when it could be the one asked for', async () => {
    expect((await resolveRelease(store, 'app')).digest).toBe(digests['app/2']);
    expect((await resolveRelease(store, digests['app/1']!.slice(0, 12))).version).toBe('1');
    await expect(resolveRelease(store, 'other')).rejects.toThrow(/release other\/1: .*does not hash to its folder name/);
    await expect(resolveRelease(store, digests['other/1']!.slice(0, 12))).rejects.toThrow(/does not hash to its folder name/);
  });

  it('a damaged newest release of a name is an error, never an older one in its place', async () => {
    const copy = join(dir, 'newest');
    const d1 = writeRelease(copy, release('app', '1'));
    const d2 = writeRelease(copy, release('app', '2'));
    const bundles = join(copy, 'bundles');
    await rm(join(bundles, d2), { recursive: true });
    await symlink(join(bundles, d1), join(bundles, d2));
    await expect(resolveRelease(copy, 'app')).rejects.toThrow(/release app\/2: .*symbolic link/);
    const r = await ferry(['list', '--store', copy]);
    expect(r.code).toBe(71);
    expect(r.stdout).toMatch(/^app\s+1\s/m);
    expect(r.stderr).toMatch(/^warning: skipped a damaged release: release app\/2: .*symbolic link/m);
  });

  it('a manifest or a ref larger than any can be is refused by its size, not read (sparse files of gigabytes in a store someone else wrote)', async () => {
    const big = join(dir, 'big');
    const kept = writeRelease(big, release('kept', '1'));
    const huge = writeRelease(big, release('huge', '1'));
    await truncate(join(big, 'bundles', huge, 'manifest.json'), 65 * 1024 * 1024);
    const r = await ferry(['list', '--store', big]);
    expect(r.code).toBe(71);
    expect(r.stdout).toMatch(/^kept\s+1\s/m);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('warning:'))).toEqual([expect.stringMatching(/^warning: skipped a damaged release: .*manifest\.json is 68157440 bytes, more than a manifest may be \(67108864\): the store is damaged; re-import the bundle$/)]);
    // a ref of 3 GiB (more than node reads into one buffer) where a digest and a newline belong
    await truncate(join(big, 'refs', 'kept', '1'), 3 * 1024 ** 3);
    const v = await ferry(['verify', '--store', big, 'kept/1']);
    expect([v.code, v.stdout]).toEqual([71, '']);
    expect(v.stderr).toMatch(/^ferry: [^\n]*refs\/kept\/1:? does not hold a bundle digest; fix or remove that ref\n$/);
    expect(kept).toMatch(/^[0-9a-f]{64}$/);
  });
});
