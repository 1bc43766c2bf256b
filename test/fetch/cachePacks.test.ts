import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyIntoCache, keepPack, restoreFromPacks } from '../../src/fetch/cachePacks.js';
import { fetchToCache } from '../../src/fetch/fetchToCache.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A file of three blobs at known places (as a bundle holds them), and where each is. */
async function packFile(dir: string, name: string) {
  const blobs = [randomBytes(3000), randomBytes(1 << 20), randomBytes(5)];
  const file = join(dir, name);
  const parts: Buffer[] = [Buffer.alloc(512)];
  const entries = blobs.map((b) => {
    const offset = parts.reduce((n, p) => n + p.length, 0);
    parts.push(b, Buffer.alloc(100));
    return { sha256: sha(b), offset, size: b.length };
  });
  await writeFile(file, Buffer.concat(parts));
  return { file, blobs, entries };
}

describe('the cache keeps blobs inside a bundle (fetch/cachePacks.ts)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-packs-${process.pid}-`));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('links the file into the cache (no copy), copies each blob out, checked, when first asked for, and removes the link once every blob has its own entry', async () => {
    const cache = join(dir, 'cache-1');
    const { file, blobs, entries } = await packFile(dir, 'one.ferry');
    expect(keepPack(cache, file, entries)).toBe(true);
    const packs = await readdir(join(cache, 'packs'));
    expect(packs.filter((n) => n.endsWith('.json'))).toHaveLength(1);
    const pack = join(cache, 'packs', packs.find((n) => n.endsWith('.ferry'))!);
    expect((await stat(pack)).ino).toBe((await stat(file)).ino);
    // a digest no pack holds, and a size other than the one kept
    expect(await restoreFromPacks(cache, sha(Buffer.from('other')), undefined)).toBe(false);
    expect(await restoreFromPacks(cache, entries[0]!.sha256, entries[0]!.size + 1)).toBe(false);
    for (const [i, e] of entries.entries()) {
      expect(await restoreFromPacks(cache, e.sha256, e.size)).toBe(true);
      expect((await readFile(join(cache, 'sha256', e.sha256))).equals(blobs[i]!)).toBe(true);
      expect(((await stat(join(cache, 'sha256', e.sha256))).mode & 0o777).toString(8)).toBe('444');
      // the link stays until the last blob has its own entry
      expect(existsSync(pack)).toBe(i < entries.length - 1);
    }
    expect(await readdir(join(cache, 'packs'))).toEqual([]);
    expect(existsSync(file)).toBe(true);
  });

  it('does not take a blob from a pack whose bytes changed since: says so, drops the pack, and leaves the blob to be downloaded', async () => {
    const cache = join(dir, 'cache-2');
    const { file, entries } = await packFile(dir, 'two.ferry');
    expect(keepPack(cache, file, entries)).toBe(true);
    const bytes = await readFile(file);
    bytes[entries[1]!.offset + 77] ^= 0xff;
    await writeFile(file, bytes);
    const warnings: string[] = [];
    const log = { warn: (m: string) => warnings.push(m) } as unknown as Parameters<typeof restoreFromPacks>[3];
    expect(await restoreFromPacks(cache, entries[1]!.sha256, entries[1]!.size, log)).toBe(false);
    expect(warnings.join('\n')).toMatch(/does not give sha256 .* downloading it again/);
    expect(existsSync(join(cache, 'sha256', entries[1]!.sha256))).toBe(false);
    // the changed pack is not trusted for its other blobs either
    expect(await readdir(join(cache, 'packs'))).toEqual([]);
    expect(await restoreFromPacks(cache, entries[0]!.sha256, entries[0]!.size)).toBe(false);
    expect(await readdir(join(cache, 'tmp'))).toEqual([]);
  });

  it('ignores index entries that are not digests, places or sizes, an index that is not JSON, and a place past the end of the file', async () => {
    const cache = join(dir, 'cache-3');
    const { file, entries } = await packFile(dir, 'three.ferry');
    await mkdir(join(cache, 'packs'), { recursive: true });
    const good = entries[0]!;
    await writeFile(join(cache, 'packs', 'a.ferry'), await readFile(file));
    await writeFile(
      join(cache, 'packs', 'a.json'),
      JSON.stringify({
        entries: [
          ['../../etc/passwd', good.offset, good.size],
          [good.sha256.toUpperCase(), good.offset, good.size],
          [entries[1]!.sha256, -1, entries[1]!.size],
          [entries[1]!.sha256, 1.5, entries[1]!.size],
          [entries[2]!.sha256, 1e20, entries[2]!.size],
          [entries[2]!.sha256, good.offset],
          'not an entry',
        ],
      }),
    );
    await writeFile(join(cache, 'packs', 'b.ferry'), await readFile(file));
    await writeFile(join(cache, 'packs', 'b.json'), '{"entries": [');
    const past = randomBytes(64);
    await writeFile(join(cache, 'packs', 'c.ferry'), Buffer.alloc(10));
    await writeFile(join(cache, 'packs', 'c.json'), JSON.stringify({ entries: [[sha(past), 0, past.length]] }));
    for (const e of entries) expect(await restoreFromPacks(cache, e.sha256, e.size)).toBe(false);
    expect(await restoreFromPacks(cache, sha(past), past.length)).toBe(false);
    expect(await readdir(join(cache, 'sha256')).catch(() => [])).toEqual([]);
  });

  it('says when it cannot link the file (the caller copies the blobs then), and the copies are only the blobs that match', async () => {
    const cache = join(dir, 'cache-4');
    const { file, blobs, entries } = await packFile(dir, 'four.ferry');
    expect(keepPack(cache, join(dir, 'no-such-file'), entries)).toBe(false);
    expect(await readdir(join(cache, 'packs'))).toEqual([]);
    const wrong = { ...entries[2]!, offset: entries[2]!.offset + 1 };
    await copyIntoCache(cache, file, [entries[0]!, entries[1]!, wrong]);
    expect((await readFile(join(cache, 'sha256', entries[0]!.sha256))).equals(blobs[0]!)).toBe(true);
    expect((await readFile(join(cache, 'sha256', entries[1]!.sha256))).equals(blobs[1]!)).toBe(true);
    expect(existsSync(join(cache, 'sha256', entries[2]!.sha256))).toBe(false);
    expect(await readdir(join(cache, 'tmp'))).toEqual([]);
  });

  it('removes what a process killed between linking a bundle and writing its index left, once it is an hour old, and nothing younger', async () => {
    const cache = join(dir, 'cache-5');
    await mkdir(join(cache, 'packs'), { recursive: true });
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    for (const name of ['old.ferry', 'old.json.tmp', 'young.ferry', 'young.json.tmp', 'kept.ferry', 'kept.json']) await writeFile(join(cache, 'packs', name), '{"entries": []}');
    for (const name of ['old.ferry', 'old.json.tmp', 'kept.ferry', 'kept.json']) await utimes(join(cache, 'packs', name), old, old);
    expect(await restoreFromPacks(cache, sha(Buffer.from('x')), 1)).toBe(false);
    expect((await readdir(join(cache, 'packs'))).sort()).toEqual(['kept.ferry', 'kept.json', 'young.ferry', 'young.json.tmp']);
  });

  it('answers a download request from a pack without the network, as a hit checked now (packing need not hash it again), and as a plain hit after', async () => {
    const cache = join(dir, 'cache-6');
    const { file, blobs, entries } = await packFile(dir, 'six.ferry');
    expect(keepPack(cache, file, entries)).toBe(true);
    // nothing listens there: an attempt to download would fail
    const req = { url: 'http://127.0.0.1:9/never', sha256: entries[1]!.sha256, size: entries[1]!.size };
    const first = await fetchToCache(req, { cacheDir: cache });
    expect(first).toMatchObject({ fromCache: true, fetchedBytes: 0, checkedNow: true });
    expect((await readFile(first.path)).equals(blobs[1]!)).toBe(true);
    const again = await fetchToCache(req, { cacheDir: cache });
    expect(again).toMatchObject({ fromCache: true, fetchedBytes: 0 });
    expect(again.checkedNow).toBeUndefined();
  });
});
