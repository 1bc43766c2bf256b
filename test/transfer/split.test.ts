import { beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { snapshotTree } from '../helpers/tree.js';
import { buildRelease, ferry, importInto, readJson } from './fixtures.js';

/** A bundle cut into volumes imports exactly like the whole; a damaged set is refused naming the volume, and the store stays as it was. */
describe('split bundles', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let whole: string;
  let vols: string;
  let index: { size: number; sha256: string; digest: string; volumes: Array<{ file: string; size: number; sha256: string }> };
  let store: string;
  const files = { 'a.bin': randomBytes(150_000), 'b.bin': randomBytes(90_000), 'c.txt': 'small\n' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-split-'));
    team = await writeKey(dir, 'team');
    whole = (await buildRelease(dir, team.secret, { version: '1.0.0', files })).bundle;
    vols = join(dir, 'vols');
    const r = await ferry(['split', whole, '--size', '64K', '--out', vols]);
    expect(r.code, r.stderr).toBe(0);
    index = await readJson(join(vols, 'app-1.0.0.ferry.index.json'));
    // a store that already holds another release, so "unchanged" is not trivially "empty"
    store = join(dir, 'store');
    await importInto(store, (await buildRelease(dir, team.secret, { name: 'other', version: '1.0.0', files: { 'o.txt': 'other\n' } })).bundle, team.public);
  });

  /** a copy of the volumes to damage */
  async function copyVolumes(name: string): Promise<string> {
    const d = join(dir, name);
    await cp(vols, d, { recursive: true });
    return d;
  }

  async function expectRefused(target: string, message: RegExp) {
    const before = await snapshotTree(store);
    const v = await ferry(['verify', target, '--keyring', team.public]);
    expect(v.code, v.stderr).toBe(67);
    expect(v.stderr).toMatch(message);
    const r = await ferry(['import', target, '--keyring', team.public, '--store', store]);
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr).toMatch(message);
    expect(await snapshotTree(store)).toEqual(before);
  }

  it('writes numbered volumes of at most the size and an index with every sha256', async () => {
    const names = (await readdir(vols)).sort();
    expect(index.volumes.length).toBe(Math.ceil(index.size / 65536));
    expect(index.volumes.length).toBeGreaterThanOrEqual(4);
    expect(names).toEqual([...index.volumes.map((v) => v.file), 'app-1.0.0.ferry.index.json']);
    expect(index.volumes.map((v) => v.file)[0]).toBe('app-1.0.0.ferry.001');
    expect(index.volumes.slice(0, -1).every((v) => v.size === 65536)).toBe(true);
    const joined = Buffer.concat(await Promise.all(index.volumes.map((v) => readFile(join(vols, v.file)))));
    expect(joined.equals(await readFile(whole))).toBe(true);
  });

  it('build --split writes the same volumes and index as splitting the built bundle', async () => {
    const out = join(dir, 'built-split');
    const r = await buildRelease(dir, team.secret, { version: '1.0.0', files }, ['--split', '64K'], out);
    expect(r.stdout).toMatch(/app-1\.0\.0\.ferry\.index\.json/);
    expect(await snapshotTree(out)).toEqual(await snapshotTree(vols));
  });

  it('imports identically to the whole bundle, from the index or from the first volume', async () => {
    const a = join(dir, 'store-whole');
    const b = join(dir, 'store-index');
    const c = join(dir, 'store-first');
    await importInto(a, whole, team.public);
    await importInto(b, join(vols, 'app-1.0.0.ferry.index.json'), team.public);
    await importInto(c, join(vols, 'app-1.0.0.ferry.001'), team.public);
    const expected = await snapshotTree(a);
    expect(Object.keys(expected)).toContain(`bundles/${index.digest}/files/svc/a.bin`);
    expect(await snapshotTree(b)).toEqual(expected);
    expect(await snapshotTree(c)).toEqual(expected);
  });

  it('verify checks every volume and the whole bundle', async () => {
    const r = await ferry(['verify', join(vols, 'app-1.0.0.ferry.index.json'), '--keyring', team.public]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${index.volumes.length} volumes and the whole bundle match the index`);
  });

  it('refuses a flipped byte in one volume, naming it', async () => {
    const d = await copyVolumes('flipped');
    const n = index.volumes.length;
    const file = join(d, 'app-1.0.0.ferry.003');
    const bytes = await readFile(file);
    bytes[1234] ^= 0x01;
    await writeFile(file, bytes);
    await expectRefused(join(d, 'app-1.0.0.ferry.index.json'), new RegExp(`volume 3 of ${n} \\(app-1\\.0\\.0\\.ferry\\.003\\): sha256 [0-9a-f]{64}, expected ${index.volumes[2]!.sha256}: the volume is corrupt`));
  });

  it('refuses a flipped byte after the last entry, which only the checksums see, before the release becomes visible', async () => {
    const d = await copyVolumes('flipped-tail');
    const n = index.volumes.length;
    const last = index.volumes[n - 1]!;
    const file = join(d, last.file);
    const bytes = await readFile(file);
    bytes[bytes.length - 1] ^= 0x01; // inside the second end-of-archive block, which the tar reader never looks at
    await writeFile(file, bytes);
    await expectRefused(join(d, 'app-1.0.0.ferry.index.json'), new RegExp(`volume ${n} of ${n} \\(${last.file.replace(/\./g, '\\.')}\\): sha256 [0-9a-f]{64}, expected ${last.sha256}`));
  });

  it('refuses a missing volume, naming it, before reading anything', async () => {
    const d = await copyVolumes('missing');
    const n = index.volumes.length;
    await rm(join(d, 'app-1.0.0.ferry.004'));
    await expectRefused(join(d, 'app-1.0.0.ferry.001'), new RegExp(`volume 4 of ${n} \\(app-1\\.0\\.0\\.ferry\\.004\\) is missing from .*: copy every volume listed in app-1\\.0\\.0\\.ferry\\.index\\.json`));
  });

  it('refuses volumes in the wrong order, naming the one out of place', async () => {
    const d = await copyVolumes('swapped');
    const n = index.volumes.length;
    await rename(join(d, 'app-1.0.0.ferry.002'), join(d, 'tmp'));
    await rename(join(d, 'app-1.0.0.ferry.003'), join(d, 'app-1.0.0.ferry.002'));
    await rename(join(d, 'tmp'), join(d, 'app-1.0.0.ferry.003'));
    await expectRefused(
      join(d, 'app-1.0.0.ferry.index.json'),
      new RegExp(`volume 2 of ${n} \\(app-1\\.0\\.0\\.ferry\\.002\\): sha256 ${index.volumes[2]!.sha256}, expected ${index.volumes[1]!.sha256}: it holds the content of volume 3 of ${n} \\(app-1\\.0\\.0\\.ferry\\.003\\); the volumes were renamed or copied out of order`),
    );
  });

  it('refuses a truncated volume by its size', async () => {
    const d = await copyVolumes('short');
    const n = index.volumes.length;
    const file = join(d, 'app-1.0.0.ferry.002');
    await writeFile(file, (await readFile(file)).subarray(0, 1000));
    await expectRefused(join(d, 'app-1.0.0.ferry.index.json'), new RegExp(`volume 2 of ${n} \\(app-1\\.0\\.0\\.ferry\\.002\\) is 1000 bytes, the index says 65536: an incomplete copy`));
  });

  it('refuses an index that does not belong to the volumes', async () => {
    const d = await copyVolumes('foreign-index');
    const file = join(d, 'app-1.0.0.ferry.index.json');
    const forged = { ...index, sha256: 'f'.repeat(64) };
    await writeFile(file, JSON.stringify(forged));
    await expectRefused(file, /the reassembled bundle has sha256 [0-9a-f]{64}, the index says f{64}: the index does not belong to these volumes/);
  });

  it('refuses an index larger than any split index without reading it (68)', async () => {
    const d = await copyVolumes('huge-index');
    const file = join(d, 'app-1.0.0.ferry.index.json');
    // 2 MiB of nested arrays: valid JSON an unbounded reader would parse
    await writeFile(file, '['.repeat(1 << 20) + ']'.repeat(1 << 20));
    const before = await snapshotTree(store);
    for (const args of [['verify', file, '--keyring', team.public], ['import', file, '--keyring', team.public, '--store', store]]) {
      const r = await ferry(args);
      expect(r.code, r.stderr).toBe(68);
      expect(r.stderr).toMatch(/: 2097152 bytes, larger than any split index \(at most 1048576\): not a ferry split index\n$/);
    }
    expect(await snapshotTree(store)).toEqual(before);
  });

  it('refuses an index that is a FIFO with one line (64) instead of waiting on it for ever', async () => {
    const d = await copyVolumes('fifo-index');
    const file = join(d, 'app-1.0.0.ferry.index.json');
    await rm(file);
    const made = await run('mkfifo', [file]);
    expect(made.code, made.stderr).toBe(0);
    const before = await snapshotTree(store);
    for (const target of [file, join(d, 'app-1.0.0.ferry.001')]) {
      for (const args of [['verify', target, '--keyring', team.public], ['import', target, '--keyring', team.public, '--store', store]]) {
        const r = await ferry(args);
        expect(r.code, r.stderr).toBe(64);
        expect(r.stderr).toMatch(/^ferry: .*(is not a file|is not next to it).*\n$/);
      }
    }
    expect(await snapshotTree(store)).toEqual(before);
  });

  it('refuses an index of the wrong shape with one line however many fields are wrong (68)', async () => {
    const d = await copyVolumes('bad-shape-index');
    const file = join(d, 'app-1.0.0.ferry.index.json');
    await writeFile(file, JSON.stringify({ ...index, format: 'other', bundle: '../x', size: -1, volumes: index.volumes.map((v) => ({ ...v, file: `../${v.file}` })) }));
    const before = await snapshotTree(store);
    for (const args of [['verify', file, '--keyring', team.public], ['import', file, '--keyring', team.public, '--store', store]]) {
      const r = await ferry(args);
      expect(r.code, r.stderr).toBe(68);
      expect(r.stderr).toMatch(/^ferry: .* is not a ferry split index \(ferry-split\/1\): .*format.*; .*bundle.*; and \d+ more\n$/);
    }
    expect(await snapshotTree(store)).toEqual(before);
  });

  it('names the index when the whole bundle is asked for and only its volumes and index are there (64)', async () => {
    const d = await copyVolumes('only-volumes');
    for (const command of [['verify'], ['import', '--store', store], ['inspect']]) {
      const r = await ferry([command[0]!, join(d, 'app-1.0.0.ferry'), '--keyring', team.public, ...command.slice(1)]);
      expect(r.code, r.stderr).toBe(64);
      expect(r.stderr).toMatch(/app-1\.0\.0\.ferry is not there, but its split index app-1\.0\.0\.ferry\.index\.json is: pass the index \(the volumes are read from next to it\)\n$/);
    }
  });

  it('asks for the index when only volumes were copied', async () => {
    const d = await copyVolumes('no-index');
    await rm(join(d, 'app-1.0.0.ferry.index.json'));
    const r = await ferry(['import', join(d, 'app-1.0.0.ferry.001'), '--keyring', team.public, '--store', store]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/its index app-1\.0\.0\.ferry\.index\.json is not next to it: the index carries every volume's checksum; copy it with the volumes/);
  });
  it('refuses (64) to split a bundle whose file name no index can name, before writing a volume, and splits it once renamed', async () => {
    // a browser's or file manager's second copy: the index would name it, and every reader refuses such an index
    const copy = join(dir, 'app-1.0.0 (1).ferry');
    await cp(whole, copy);
    const out = join(dir, 'vols-renamed');
    const r = await ferry(['split', copy, '--size', '64K', '--out', out]);
    expect(r.code, r.stderr).toBe(64);
    expect(r.stderr).toMatch(/^ferry: .*app-1\.0\.0 \(1\)\.ferry: a split index names its volumes by the bundle's file name, and "app-1\.0\.0 \(1\)\.ferry" is not one it can carry .*: rename the bundle \(e\.g\. to app-1\.0\.0\.ferry\) and split it again\n$/);
    expect(await readdir(out).catch(() => [])).toEqual([]);
    const renamed = join(dir, 'app-1.0.0-copy.ferry');
    await rename(copy, renamed);
    expect((await ferry(['split', renamed, '--size', '64K', '--out', out])).code).toBe(0);
    const v = await ferry(['verify', join(out, 'app-1.0.0-copy.ferry.index.json'), '--keyring', team.public]);
    expect(v.code, v.stderr).toBe(0);
  });

  it('a split stopped while its volumes replace an earlier one\'s leaves no index naming a mix of both', async () => {
    const d = await copyVolumes('resplit');
    // another build of the same NAME-VERSION (as a rebuilt release would be), split into the same folder
    const other = (await buildRelease(dir, team.secret, { version: '1.0.0', files: { 'a.bin': randomBytes(150_000), 'b.bin': randomBytes(90_000) } }, [], join(dir, 'out-resplit'))).bundle;
    // killed at its second rename: one new volume has taken an old one's name
    const killed = await run('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'inject=rename:signal=KILL:when=2', process.execPath, join(import.meta.dirname, '../../bin/ferry.js'), 'split', other, '--size', '64K', '--out', d]);
    expect(killed.code).not.toBe(0);
    const files = await readdir(d);
    expect(files).toContain('app-1.0.0.ferry.001');
    expect(files).not.toContain('app-1.0.0.ferry.index.json');
    // so what is there is asked for by its index and found missing, not taken for damaged copies
    const v = await ferry(['verify', join(d, 'app-1.0.0.ferry.index.json'), '--keyring', team.public]);
    expect(v.code, v.stderr).toBe(64);
  });
});
