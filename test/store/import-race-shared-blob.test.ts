import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import { generateKey } from '../../src/pgp/generateKey.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';

/**
 * The moment two imports meet: the first import to link a content new to the store into blobs/ is held
 * there (its check found no blob, its link not yet made) until the other import has linked the same
 * content as the blob. Held through a wrapper of fs/promises' link, so the interleaving is the same every run.
 */
const gate = vi.hoisted(() => ({ blob: '', waiting: undefined as undefined | (() => void), linked: undefined as undefined | Promise<void>, done: () => {} }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const link: typeof fsp.link = async (from, to) => {
    if (gate.blob === '' || String(to) !== gate.blob) return fsp.link(from, to);
    if (gate.linked === undefined) {
      // the first import: wait until the other one has made the blob
      let done!: () => void;
      gate.linked = new Promise<void>((r) => (done = r));
      gate.done = done;
      await gate.linked;
      return fsp.link(from, to);
    }
    try {
      return await fsp.link(from, to);
    } finally {
      gate.done();
    }
  };
  return { ...fsp, link, default: { ...fsp, link } };
});

const { importBundle } = await import('../../src/store/importBundle.js');

describe('two imports store the same new content at once', () => {
  let dir: string;
  let key: openpgp.PrivateKey;
  const bundles: Buffer[] = [];
  const shared = Buffer.from('the same bytes in both bundles\n'.repeat(1000));
  let sharedSha: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-import-race-shared-'));
    const k = await generateKey({ name: 'race team' });
    key = await openpgp.readPrivateKey({ armoredKey: k.secretArmored });
    for (const who of ['a', 'b']) {
      const files = [
        { path: 'files/app/shared.txt', data: shared },
        { path: `files/app/only-${who}.txt`, data: Buffer.from(`only in ${who}\n`) },
      ];
      const manifest = manifestFor(files, { name: `app-${who}`, version: '1.0.0' });
      sharedSha = manifest.entries.find((e) => e.path === 'files/app/shared.txt')!.sha256;
      bundles.push(await craftBundle(manifest, key, files));
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('the import that finds the blob made between its check and its link links to it: one inode for the content, in both releases', async () => {
    const store = join(dir, 'store');
    gate.blob = join(store, 'blobs/sha256', sharedSha);
    const pub = key.toPublic();
    const results = await Promise.all(bundles.map((b) => importBundle(Readable.from([b]), { storeDir: store, keys: [pub] })));
    expect(gate.linked).toBeDefined(); // the two did meet at the link
    const blob = await stat(gate.blob);
    const inA = await stat(join(store, 'bundles', results[0]!.digest, 'files/app/shared.txt'));
    const inB = await stat(join(store, 'bundles', results[1]!.digest, 'files/app/shared.txt'));
    expect([inA.ino, inB.ino]).toEqual([blob.ino, blob.ino]);
    expect(blob.nlink).toBe(3);
    // the content is new to the store once: counted by the import that made its blob only
    expect(results[0]!.newBytes + results[1]!.newBytes).toBe(shared.length + 2 * 'only in a\n'.length);
    expect(await readdir(join(store, '.tmp'))).toEqual([]);
  });
});
