import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { sha256Hex } from '../../src/util/sha256.js';

/**
 * An operator could check a stored release's bytes only by importing its bundle again: no command re-hashed
 * a release in the store against its manifest without the bundle. `ferry verify --store DIR RELEASE|--all`.
 */
describe('ferry verify --store DIR RELEASE | --all', () => {
  let dir: string;
  let store: string;
  const digests: Record<string, string> = {};
  const data = randomBytes(200 * 1024);
  const ferryLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ferry: '));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-verify-store-'));
    store = join(dir, 'store');
    const key = await writeKey(dir, 'team');
    const priv = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
    // app 1.0.0 and 2.0.0 share data.bin; other 1.0.0 shares nothing
    const sets = {
      'app@1.0.0': [{ path: 'files/s/data.bin', data }, { path: 'files/s/one.txt', data: Buffer.from('one\n') }],
      'app@2.0.0': [{ path: 'files/s/data.bin', data }, { path: 'files/s/two.txt', data: Buffer.from('two\n') }],
      'other@1.0.0': [{ path: 'files/s/other.txt', data: Buffer.from('other\n') }],
    };
    for (const [release, files] of Object.entries(sets)) {
      const [name, version] = release.split('@') as [string, string];
      const bundle = join(dir, `${name}-${version}.ferry`);
      await writeFile(bundle, await craftBundle(manifestFor(files, { name, version }), priv, files));
      const r = await ferry(['import', bundle, '--keyring', key.public, '--store', store, '--json']);
      expect(r.code, r.stderr).toBe(0);
      digests[release] = (JSON.parse(r.stdout) as { digest: string }).digest;
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a sound store: every release OK, exit 0, nothing written', async () => {
    const log = await readFile(join(store, 'audit.log'), 'utf8');
    const one = await ferry(['verify', '--store', store, 'app@1.0.0']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toBe(`OK app 1.0.0 ${digests['app@1.0.0']}\n  2 entries, 200.0 KiB, all match the stored manifest\n`);
    const all = await ferry(['verify', '--store', store, '--all']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.split('\n').filter((l) => l.startsWith('OK '))).toEqual([`OK app 1.0.0 ${digests['app@1.0.0']}`, `OK app 2.0.0 ${digests['app@2.0.0']}`, `OK other 1.0.0 ${digests['other@1.0.0']}`]);
    expect(await readFile(join(store, 'audit.log'), 'utf8')).toBe(log);
  });

  it('a blob changed on disk: 67, one line naming the damaged file; --all names every release it is in', async () => {
    const blob = join(store, 'blobs/sha256', sha256Hex(data));
    const copy = Buffer.from(data);
    copy[100_000] ^= 0x20;
    await chmod(blob, 0o644);
    await writeFile(blob, copy);
    await chmod(blob, 0o444);
    const file = (release: string) => join(store, 'bundles', digests[release]!, 'files/s/data.bin');
    const says = (release: string) => `${file(release)} has sha256 ${sha256Hex(copy)} (${copy.length} bytes), but its manifest says ${sha256Hex(data)} (${data.length})`;

    const one = await ferry(['verify', '--store', store, 'app@2.0.0']);
    expect(one.code, one.stderr).toBe(67);
    expect(ferryLines(one.stderr)).toEqual([`ferry: release app 2.0.0: ${says('app@2.0.0')}: the store is damaged; import a full bundle that carries the blob, this release's or a new one (it rewrites the blob from its verified bytes), or remove the releases' refs, run ferry gc and import them again`]);
    expect(one.stdout).toContain('DAMAGED app 2.0.0');

    const other = await ferry(['verify', '--store', store, 'other']);
    expect(other.code, other.stderr).toBe(0);

    const all = await ferry(['verify', '--store', store, '--all', '--json']);
    expect(all.code, all.stderr).toBe(67);
    const report = JSON.parse(all.stdout) as { ok: boolean; releases: Array<{ name: string; version: string; damaged: Array<{ path: string; problem: string }> }> };
    expect(report.ok).toBe(false);
    expect(report.releases.map((r) => [`${r.name}@${r.version}`, r.damaged])).toEqual([
      ['app@1.0.0', [{ path: 'files/s/data.bin', problem: says('app@1.0.0') }]],
      ['app@2.0.0', [{ path: 'files/s/data.bin', problem: says('app@2.0.0') }]],
      ['other@1.0.0', []],
    ]);
    expect(ferryLines(all.stderr)).toEqual([expect.stringContaining(`ferry: release app 1.0.0: ${says('app@1.0.0')}; 2 damaged files in 2 releases in all (each named above)`)]);
  });

  it('a file missing from a release tree: 67 naming it', async () => {
    const gone = join(store, 'bundles', digests['other@1.0.0']!, 'files/s/other.txt');
    await unlink(gone);
    const r = await ferry(['verify', '--store', store, 'other@1.0.0']);
    expect(r.code, r.stderr).toBe(67);
    expect(ferryLines(r.stderr)).toEqual([expect.stringContaining(`ferry: release other 1.0.0: cannot read ${gone} (missing): the store is damaged`)]);
    expect(await readdir(join(store, '.tmp'))).toEqual([]);
  });

  it('refuses what does not fit (64, one line)', async () => {
    for (const [args, line] of [
      [['verify', '--store', store], `ferry: give a release of ${store} to check (NAME@VERSION, NAME or a digest), or --all`],
      [['verify', '--all'], 'ferry: --all checks the releases of a store: give --store DIR'],
      [['verify', '--store', store, '--all', 'app'], 'ferry: --all checks every release of the store: give no release (app) with it'],
    ] as const) {
      const r = await ferry([...args]);
      expect(r.code, r.stderr).toBe(64);
      expect(r.stderr).toBe(`${line}\n`);
    }
  });
});

/**
 * verify --store re-hashed the manifest and every entry, but never looked at the stored manifest.json.asc,
 * which the import wrote beside them and serve hands out: a signature file deleted, cut short or swapped
 * for another release's on disk left every release "OK". It must still sign the stored manifest's bytes.
 */
describe('ferry verify --store checks the stored signature too', () => {
  let dir: string;
  let store: string;
  const digests: Record<string, string> = {};
  let keyring: string;
  const asc = (release: string) => join(store, 'bundles', digests[release]!, 'manifest.json.asc');
  const ferryLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ferry: '));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-verify-store-asc-'));
    store = join(dir, 'store');
    const key = await writeKey(dir, 'team');
    keyring = key.public;
    const priv = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
    for (const version of ['1.0.0', '2.0.0']) {
      const files = [{ path: 'files/s/v.txt', data: Buffer.from(`${version}\n`) }];
      const bundle = join(dir, `sig-${version}.ferry`);
      await writeFile(bundle, await craftBundle(manifestFor(files, { name: 'sig', version }), priv, files));
      const r = await ferry(['import', bundle, '--keyring', key.public, '--store', store, '--json']);
      expect(r.code, r.stderr).toBe(0);
      digests[`sig@${version}`] = (JSON.parse(r.stdout) as { digest: string }).digest;
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function replaceAsc(release: string, content: Buffer | undefined): Promise<void> {
    await rm(asc(release), { force: true });
    if (content) await writeFile(asc(release), content, { mode: 0o444 });
  }

  it('the signature of another release, or one cut short, or none: 67, one line naming the file; OK once it is back', async () => {
    const control = await ferry(['verify', '--store', store, 'sig@1.0.0']);
    expect(control.code, control.stderr).toBe(0);
    expect(control.stdout).toContain('OK sig 1.0.0');

    const own = await readFile(asc('sig@1.0.0'));
    const other = await readFile(asc('sig@2.0.0'));
    for (const [what, content, says] of [
      ['the signature of sig 2.0.0 (same key, other bytes)', other, 'holds no signature over the stored manifest'],
      ['its own signature cut short', own.subarray(0, own.length >> 1), 'is not an OpenPGP signature'],
      ['no signature file', undefined, '(missing)'],
    ] as const) {
      await replaceAsc('sig@1.0.0', content);
      const r = await ferry(['verify', '--store', store, 'sig@1.0.0']);
      expect(r.code, `${what}: ${r.stderr}`).toBe(67);
      const lines = ferryLines(r.stderr);
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(/^ferry: release sig 1\.0\.0: /);
      expect(lines[0], what).toContain(asc('sig@1.0.0'));
      expect(lines[0], what).toContain(says);
      expect(lines[0], what).toMatch(/: the store is damaged; import its bundle again \(it replaces the signature file with its own, verified\)$/);
      expect(r.stdout, what).toContain('DAMAGED sig 1.0.0');
      expect(r.stdout, what).toContain('manifest.json.asc');
      const all = await ferry(['verify', '--store', store, '--all', '--json']);
      expect(all.code, what).toBe(67);
      const report = JSON.parse(all.stdout) as { releases: Array<{ version: string; damaged: Array<{ path: string }> }> };
      expect(report.releases.map((x) => [x.version, x.damaged.map((d) => d.path)]), what).toEqual([
        ['1.0.0', ['manifest.json.asc']],
        ['2.0.0', []],
      ]);
    }

    await replaceAsc('sig@1.0.0', own);
    const back = await ferry(['verify', '--store', store, 'sig@1.0.0']);
    expect(back.code, back.stderr).toBe(0);
  });

  it('importing the bundle again replaces a damaged signature file with its own (a warning, not "nothing to do"); then verify --store is OK', async () => {
    const bundle = join(dir, 'sig-1.0.0.ferry');
    for (const content of [await readFile(asc('sig@2.0.0')), undefined]) {
      await replaceAsc('sig@1.0.0', content);
      const r = await ferry(['import', bundle, '--keyring', keyring, '--store', store]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('warning: ') || l.startsWith('ferry: '))).toEqual([expect.stringMatching(/^warning: .*manifest\.json\.asc.*: replaced by this bundle's verified signature$/)]);
      expect(r.stdout).toBe(`sig 1.0.0 (${digests['sig@1.0.0']}) is already in ${store}: its damaged stored signature replaced by the bundle's\n`);
      const v = await ferry(['verify', '--store', store, 'sig@1.0.0']);
      expect(v.code, v.stderr).toBe(0);
      expect((await stat(asc('sig@1.0.0'))).mode & 0o777).toBe(0o444);
      const again = await ferry(['import', bundle, '--keyring', keyring, '--store', store]);
      expect(again.stdout).toContain('nothing to do');
    }
    expect(await readdir(join(store, '.tmp'))).toEqual([]);
  });
});
