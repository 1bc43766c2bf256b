import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { link, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { sha256Hex } from '../../src/util/sha256.js';

/** How many names one inode may have on the file system of `dir` (EMLINK past it), or undefined when it takes more than `cap`. */
async function linkMax(dir: string, cap: number): Promise<number | undefined> {
  const probe = await mkdtemp(join(dir, 'probe-'));
  try {
    await writeFile(join(probe, 'f'), '');
    for (let n = 1; n <= cap; n++) {
      try {
        await link(join(probe, 'f'), join(probe, `l${n}`));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EMLINK') return n;
        throw err;
      }
    }
    return undefined;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

/**
 * Every entry of one content is a name of its blob, and a file system holds only so many names of one inode
 * (ext4: 65,000). A signed bundle of that many entries of one content (a careless or hostile signer) used them
 * all up, and every later import of a release holding that content, full or differential, failed with an
 * internal error (exit 74). Such entries are stored as files of their own.
 */
describe('a content whose blob has as many names as the file system allows', () => {
  let dir: string;
  let store: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let key: openpgp.PrivateKey;
  let max: number | undefined;
  const shared = Buffer.from('a content many entries share\n');
  let floodDigest = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-link-limit-'));
    store = join(dir, 'store');
    team = await writeKey(dir, 'team');
    key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    max = await linkMax(dir, 70_000);
    if (max === undefined) return;
    // the blob's own name and one per entry: every name the inode may have
    const files = Array.from({ length: max - 1 }, (_, i) => ({ path: `files/flood/f${String(i).padStart(6, '0')}`, data: shared }));
    await writeFile(join(dir, 'flood.ferry'), await craftBundle(manifestFor(files, { name: 'flood' }), key, files));
    const r = await ferry(['import', join(dir, 'flood.ferry'), '--keyring', team.public, '--store', store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    floodDigest = (JSON.parse(r.stdout) as { digest: string }).digest;
  }, 300_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function importAndCheck(name: string, manifest: ReturnType<typeof manifestFor>, files: Array<{ path: string; data: Buffer }>) {
    await writeFile(join(dir, `${name}.ferry`), await craftBundle(manifest, key, files));
    const r = await ferry(['import', join(dir, `${name}.ferry`), '--keyring', team.public, '--store', store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const digest = (JSON.parse(r.stdout) as { digest: string }).digest;
    const stored = join(store, 'bundles', digest, 'files/app/shared.txt');
    expect(sha256Hex(await readFile(stored))).toBe(sha256Hex(shared));
    expect((await stat(stored)).mode & 0o777).toBe(0o444);
    const v = await ferry(['verify', '--store', store, `${manifest.name}/${manifest.version}`]);
    expect(v.code, v.stderr).toBe(0);
  }

  it('a later release that carries it is imported, its entry a file of its own', async (ctx) => {
    if (max === undefined) ctx.skip();
    const files = [
      { path: 'files/app/own.txt', data: Buffer.from('only here\n') },
      { path: 'files/app/shared.txt', data: shared },
    ];
    await importAndCheck('full', manifestFor(files, { name: 'app', version: '1.0.0' }), files);
  });

  it('a differential release that takes it from its base is imported, its entry a copy of the blob', async (ctx) => {
    if (max === undefined) ctx.skip();
    const files = [
      { path: 'files/app/own.txt', data: Buffer.from('only here, 2\n') },
      { path: 'files/app/shared.txt', data: shared },
    ];
    const manifest = manifestFor(files, { name: 'app', version: '2.0.0', base: { name: 'flood', version: '1.0.0', digest: floodDigest }, omitted: ['files/app/shared.txt'] });
    await importAndCheck('differential', manifest, files.slice(0, 1));
  });
});
