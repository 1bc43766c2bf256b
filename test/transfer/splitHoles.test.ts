import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKey } from '../helpers/keys.js';
import { snapshotTree } from '../helpers/tree.js';
import { buildRelease, ferry, importInto, readJson } from './fixtures.js';

/** 4 TiB: a hole (no disk space taken) that no test run could read through */
const HOLE = 4 * 2 ** 40;
const SHA = 'a'.repeat(64);

/**
 * The index and the volumes are unsigned: when the reader refuses what it read, the rest of the volume it was
 * in is read to name it only as far as a bundle can reach. A volume of terabytes of holes kept verify and
 * import reading zeros for hours (it never ended within a test's time).
 */
describe('split volumes larger than any bundle they could hold', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let whole: string;
  let vols: string;
  let store: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-split-holes-'));
    team = await writeKey(dir, 'team');
    whole = (await buildRelease(dir, team.secret, { version: '1.0.0', files: { 'a.bin': randomBytes(100_000) } })).bundle;
    vols = join(dir, 'vols');
    const r = await ferry(['split', whole, '--size', '64K', '--out', vols]);
    expect(r.code, r.stderr).toBe(0);
    store = join(dir, 'store');
    await importInto(store, (await buildRelease(dir, team.secret, { name: 'other', version: '1.0.0', files: { 'o.txt': 'other\n' } })).bundle, team.public);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function expectRefused(index: string, code: number, message: RegExp) {
    const before = await snapshotTree(store);
    for (const args of [['verify', index, '--keyring', team.public], ['import', index, '--keyring', team.public, '--store', store]]) {
      const r = await ferry(args);
      expect(r.code, r.stderr).toBe(code);
      const refusal = r.stderr.split('\n').filter((l) => l.startsWith('ferry: '));
      expect(refusal, r.stderr).toHaveLength(1);
      expect(refusal[0]).toMatch(message);
    }
    expect(await snapshotTree(store)).toEqual(before);
  }

  it('a first volume that is a hole is refused as no bundle, not read to its end', async () => {
    const d = join(dir, 'first');
    await cp(vols, d, { recursive: true });
    for (const f of await readdir(d)) await rm(join(d, f));
    await writeFile(join(d, 'app-1.0.0.ferry.001'), '');
    await truncate(join(d, 'app-1.0.0.ferry.001'), HOLE);
    const index = join(d, 'app-1.0.0.ferry.index.json');
    await writeFile(index, JSON.stringify({ format: 'ferry-split/1', bundle: 'app-1.0.0.ferry', size: HOLE, sha256: SHA, digest: SHA, name: 'app', version: '1.0.0', volumes: [{ file: 'app-1.0.0.ferry.001', size: HOLE, sha256: SHA }] }));
    await expectRefused(index, 68, /not a ferry bundle: the first entry must be manifest\.json, found the end of the archive/);
  });

  it('split refuses a bundle with more than a writer pads after its end, before it writes a volume', async () => {
    // 64 MiB here; terabytes of a hole (no disk space taken) were written out as volumes of zeros until the disk was full
    const holey = join(dir, 'holey', 'app-1.0.0.ferry');
    await cp(whole, holey);
    const size = (await stat(holey)).size;
    await truncate(holey, size + 64 * 2 ** 20);
    const out = join(dir, 'holey-volumes');
    const r = await ferry(['split', holey, '--size', '16M', '--out', out]);
    expect(r.code, r.stderr).toBe(68);
    expect(r.stderr).toBe(`ferry: ${holey}: ${size + 64 * 2 ** 20} bytes, but the bundle its manifest lists ends at byte ${size} (a tar writer pads with at most 1048576 bytes of zeros after it): the bundle was changed after it was written; nothing was split\n`);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('sign refuses such a bundle too, before it writes a copy', async () => {
    const holey = join(dir, 'holey-sign', 'app-1.0.0.ferry');
    await cp(whole, holey);
    const size = (await stat(holey)).size;
    await truncate(holey, size + 64 * 2 ** 20);
    const second = await writeKey(dir, 'second');
    const r = await ferry(['sign', holey, '--key', second.secret]);
    expect(r.code, r.stderr).toBe(68);
    expect(r.stderr).toBe(`ferry: ${holey}: ${size + 64 * 2 ** 20} bytes, but the bundle its manifest lists ends at byte ${size} (a tar writer pads with at most 1048576 bytes of zeros after it): the bundle was changed after it was written; nothing was signed\n`);
    expect(await readdir(join(dir, 'holey-sign'))).toEqual(['app-1.0.0.ferry']);
    expect((await stat(holey)).size).toBe(size + 64 * 2 ** 20);
  });

  it('a hole after a signed bundle is refused when the signature is checked: the volumes hold more than its manifest makes', async () => {
    const d = join(dir, 'after');
    await cp(vols, d, { recursive: true });
    const indexPath = join(d, 'app-1.0.0.ferry.index.json');
    const index = await readJson(indexPath);
    await writeFile(join(d, 'app-1.0.0.ferry.999'), '');
    await truncate(join(d, 'app-1.0.0.ferry.999'), HOLE);
    index.volumes.push({ file: 'app-1.0.0.ferry.999', size: HOLE, sha256: SHA });
    const bundleSize = index.size;
    index.size += HOLE;
    await writeFile(indexPath, JSON.stringify(index));
    await expectRefused(indexPath, 67, new RegExp(`the volumes hold ${index.size} bytes, but the bundle its signed manifest lists is ${bundleSize} bytes .*: the index and volumes do not belong to this bundle`));
  });
});
