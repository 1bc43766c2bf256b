import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDebControlCached, readDebControlsCached } from '../../src/sources/apt/debControlCache.js';
import { writeAptRepository } from '../../src/sources/apt/writeAptRepository.js';
import { sha256File } from '../../src/util/sha256.js';
import { buildDeb } from './fixtureUpstream.js';

/**
 * A refresh publishes the same .debs again: their control paragraphs come from the download cache by
 * digest, so the .deb files are not opened again (issue 18: a refresh of an unchanged upstream).
 */
describe('the control paragraphs of published .debs, cached by digest', () => {
  let dir: string;
  let deb: string;
  let digest: { sha256: string; size: number };
  let key: openpgp.PrivateKey;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-debcontrol-${process.pid}-`));
    deb = await buildDeb(dir, { name: 'hello', version: '1.0-1', depends: 'libc6 (>= 2.36)' });
    digest = await sha256File(deb);
    ({ privateKey: key } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Bundle' }], format: 'object' }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const publish = (cacheDir: string, outDir: string) =>
    writeAptRepository({ outDir, suite: 'stable', architectures: ['amd64'], debs: [{ file: deb, ...digest }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [key], cacheDir });

  it('publishes the same Packages a second time without reading the .deb again', async () => {
    const cacheDir = join(dir, 'cache-a');
    const first = await publish(cacheDir, join(dir, 'out-1'));
    const packages = await readFile(join(dir, 'out-1/dists/stable/main/binary-amd64/Packages'), 'utf8');
    expect(packages).toContain('Package: hello\nVersion: 1.0-1\n');
    expect(packages).toContain('Depends: libc6 (>= 2.36)\n');
    // the paragraph's entry and the list's, nothing else (no temporary file left beside them)
    expect((await readdir(join(cacheDir, 'deb-control/v1'))).sort()).toEqual([digest.sha256, 'sets']);

    // the cache entry stands for these bytes: the second publish must not open the file (here: no longer a .deb)
    const original = await readFile(deb);
    await writeFile(deb, 'not an ar archive');
    try {
      const second = await publish(cacheDir, join(dir, 'out-2'));
      expect(await readFile(join(dir, 'out-2/dists/stable/main/binary-amd64/Packages'), 'utf8')).toBe(packages);
      expect(second.packages.map((p) => p.poolPath)).toEqual(first.packages.map((p) => p.poolPath));
    } finally {
      await writeFile(deb, original);
    }
  });

  it('publishes the same list of .debs again from one entry for the whole list, not one file per package', async () => {
    const cacheDir = join(dir, 'cache-c');
    await publish(cacheDir, join(dir, 'out-3'));
    const packages = await readFile(join(dir, 'out-3/dists/stable/main/binary-amd64/Packages'), 'utf8');
    // neither the .deb nor its own entry can answer now: only the list's entry can
    await rm(join(cacheDir, 'deb-control/v1', digest.sha256));
    const original = await readFile(deb);
    await writeFile(deb, 'not an ar archive');
    try {
      await publish(cacheDir, join(dir, 'out-4'));
      expect(await readFile(join(dir, 'out-4/dists/stable/main/binary-amd64/Packages'), 'utf8')).toBe(packages);
    } finally {
      await writeFile(deb, original);
    }
  });

  it('reads each paragraph again, and mends the list entry, when the list entry is damaged or of another length', async () => {
    const cacheDir = join(dir, 'cache-d');
    const debs = [{ file: deb, sha256: digest.sha256 }];
    const controls = await readDebControlsCached(debs, cacheDir, 2);
    const sets = join(cacheDir, 'deb-control/v1/sets');
    const [name] = await readdir(sets);
    for (const damaged of ['', '[]', JSON.stringify([[...controls[0]!], [...controls[0]!]]), '[[["Package", 1]]]', '[[["Package","hel']) {
      await writeFile(join(sets, name!), damaged);
      expect(await readDebControlsCached(debs, cacheDir, 2), damaged).toEqual(controls);
      expect(JSON.parse(await readFile(join(sets, name!), 'utf8'))).toEqual([[...controls[0]!]]);
    }
  });

  it('reads the .deb again, and mends the entry, when the cached one is damaged', async () => {
    const cacheDir = join(dir, 'cache-b');
    const control = await readDebControlCached(deb, digest.sha256, cacheDir);
    const entry = join(cacheDir, 'deb-control/v1', digest.sha256);
    for (const damaged of ['', '{"Package":"evil"}', '[["Package"]]', '[["Package", 1]]', '[]', '[["Package","hel']) {
      await writeFile(entry, damaged);
      expect(await readDebControlCached(deb, digest.sha256, cacheDir), damaged).toEqual(control);
      expect(JSON.parse(await readFile(entry, 'utf8'))).toEqual([...control]);
    }
  });
});
