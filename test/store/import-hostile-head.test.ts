import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { Header } from 'tar';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { importDemoBundle } from '../helpers/demoBundle.js';
import { snapshotTree } from '../helpers/tree.js';
import { craftBundle, craftTar, manifestFor } from '../helpers/craft.js';
import { canonicalJson } from '../../src/util/canonicalJson.js';
import { signDetached } from '../../src/pgp/sign.js';
import { writeTar } from '../../src/bundle/writeTar.js';
import { MAX_SIGNATURES } from '../../src/pgp/readSignaturePackets.js';

/**
 * Bundles found by an audit that ended in an internal error (exit 74) or kept verify busy for hours:
 * each is now refused with one line and its documented exit code, and the store is left as it was.
 */
describe('ferry verify and import refuse hostile heads and names', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let teamKey: openpgp.PrivateKey;
  let store: string;
  const data = Buffer.from('artifact\n');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-head-'));
    team = await writeKey(dir, 'team');
    teamKey = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    ({ store } = await importDemoBundle(dir, team));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function both(file: string) {
    const before = await snapshotTree(store);
    const v = await ferry(['verify', file, '--keyring', team.public]);
    const i = await ferry(['import', file, '--keyring', team.public, '--store', store]);
    expect(await snapshotTree(store)).toEqual(before);
    return { v, i };
  }

  it.each(['manifest.json/x', 'manifest.json.asc/x'])('a signed entry %s (a folder where the importer writes its own file): exit 68', async (path) => {
    const files = [{ path, data }];
    const file = join(dir, `own-${path.replace(/\W/g, '_')}.ferry`);
    await writeFile(file, await craftBundle(manifestFor(files), teamKey, files));
    const { v, i } = await both(file);
    for (const r of [v, i]) {
      expect(r.code, r.stderr).toBe(68);
      expect(r.stderr).toMatch(/which is the bundle's own file\n$/);
    }
  });

  describe('bytes after the end-of-archive marker', () => {
    const files = [{ path: 'files/s/a', data }];
    const made = async (name: string, tail: Buffer, end = true) => {
      const file = join(dir, `${name}.ferry`);
      await writeFile(file, Buffer.concat([await craftBundle(manifestFor(files), teamKey, files, { end }), tail]));
      return file;
    };

    it.each([
      ['junk appended to a signed bundle', () => made('junk', Buffer.from('#!/bin/sh\nrm -rf /\n'))],
      ['an unlisted entry after a single zero block', () => made('after-one', Buffer.concat([Buffer.alloc(512), craftTar([{ path: 'files/s/evil', data }])]), false)],
      ['one non-zero byte deep in 100 KiB of padding', () => made('deep', Buffer.concat([Buffer.alloc(100_000), Buffer.from([1]), Buffer.alloc(511)]))],
    ])('%s: exit 68, the store unchanged', async (_, make) => {
      const { v, i } = await both(await make());
      for (const r of [v, i]) {
        expect(r.code, r.stderr).toBe(68);
        expect(r.stderr).toMatch(/: data after the end-of-archive marker at byte \d+ \(non-zero byte at \d+\): the bundle was changed after it was written\n$/);
      }
    });

    it('a hole of zeros appended to a signed bundle (terabytes on disk for nothing) is refused once past 1 MiB, not read to its end: exit 68', async () => {
      const file = await made('hole', Buffer.alloc(0));
      await truncate(file, (await stat(file)).size + 64 * 1024 * 1024);
      const { v, i } = await both(file);
      for (const r of [v, i]) {
        expect(r.code, r.stderr).toBe(68);
        expect(r.stderr).toMatch(/: more than 1048576 bytes after the end-of-archive marker at byte \d+ \(a tar writer pads with at most a record of zeros\): the bundle was changed after it was written\n$/);
      }
    });

    it('zero padding after the marker (a tar record of 10 KiB) is fine (the control)', async () => {
      const file = await made('padded', Buffer.alloc(10240 - 1024));
      const v = await ferry(['verify', file, '--keyring', team.public]);
      expect(v.code, v.stderr).toBe(0);
      const i = await ferry(['import', file, '--keyring', team.public, '--store', join(dir, 'padded-store')]);
      expect(i.code, i.stderr).toBe(0);
    });
  });

  describe('bytes inside the archive that no entry holds', () => {
    const files = [{ path: 'files/s/a', data }];
    const manifest = manifestFor(files);
    const made = async (name: string, change: (bytes: Buffer) => Buffer) => {
      const file = join(dir, `${name}.ferry`);
      await writeFile(file, change(await craftBundle(manifest, teamKey, files)));
      return file;
    };
    /** a byte in the zero padding that rounds the body starting at `at` (of `size` bytes) up to a whole block */
    const inPadding = (bytes: Buffer, at: number, size: number) => {
      expect(size % 512, 'the body leaves padding').not.toBe(0);
      const out = Buffer.from(bytes);
      out[at + size + 7] = 0x41;
      return out;
    };

    it.each([
      ['a byte in the padding after an artifact', () => made('pad-entry', (b) => inPadding(b, b.lastIndexOf(data), data.length))],
      ['a byte in the padding after manifest.json', () => made('pad-head', (b) => inPadding(b, 512, Buffer.from(canonicalJson(manifest)).length))],
    ])('%s: exit 68, the store unchanged', async (_, make) => {
      const { v, i } = await both(await make());
      for (const r of [v, i]) {
        expect(r.code, r.stderr).toBe(68);
        expect(r.stderr).toMatch(/: non-zero byte in the padding after an entry at byte \d+: the bundle was changed after it was written\n$/);
      }
    });

    it('a pax header followed by the end-of-archive marker instead of an entry: exit 68, the store unchanged', async () => {
      const body = Buffer.from('29 path=files/s/not-an-entry\n');
      const paxHeader = Buffer.alloc(512);
      new Header({ path: 'PaxHeader/x', mode: 0o644, size: body.length, mtime: new Date(0), type: 'ExtendedHeader' }).encode(paxHeader);
      const file = join(dir, 'dangling-pax.ferry');
      await writeFile(file, Buffer.concat([await craftBundle(manifest, teamKey, files, { end: false }), paxHeader, body, Buffer.alloc(512 - body.length), Buffer.alloc(1024)]));
      const { v, i } = await both(file);
      for (const r of [v, i]) {
        expect(r.code, r.stderr).toBe(68);
        expect(r.stderr).toMatch(/: pax header at byte \d+ is followed by the end of the archive, not by an entry\n$/);
      }
    });
  });

  it('a manifest of millions of tiny JSON objects is refused before parsing, even where nothing verifies it first (inspect, diff)', async () => {
    // 9 MB: 3 million `{}`; a signature over other bytes: nothing here checks it before parsing
    const dense = Buffer.from(`{"artifacts":{"x":[${Array.from({ length: 3_000_000 }, () => '{}').join(',')}]}}\n`);
    const other = await signDetached(Buffer.from('other bytes'), [teamKey], teamKey.getCreationTime());
    const file = join(dir, 'dense.ferry');
    await writeFile(file, craftTar([{ path: 'manifest.json', data: dense }, { path: 'manifest.json.asc', data: Buffer.from(other) }]));
    for (const args of [['inspect', file], ['diff', file, file]]) {
      const r = await ferry(args);
      expect(r.code, r.stderr).toBe(68);
      expect(r.stderr).toMatch(/^ferry: .*manifest\.json holds 3000003 JSON objects and arrays in 9000022 bytes, more than a ferry manifest ever has \(\d+\): refused before parsing\n$/);
    }
  });

  it('an entry path too long for the file system under the store: exit 71, not an internal error', async () => {
    const path = `${('a'.repeat(200) + '/').repeat(20)}${'x'.repeat(4096 - 201 * 20)}`;
    const manifest = manifestFor([{ path, data }]);
    const bytes = Buffer.from(canonicalJson(manifest));
    const sig = await signDetached(bytes, [teamKey], teamKey.getCreationTime());
    // written by ferry's own writer: the path rides in a pax record, as it does for any path over 100 bytes
    const file = join(dir, 'long-path.ferry');
    const out = createWriteStream(file);
    await writeTar(out, [
      { path: 'manifest.json', data: bytes, size: bytes.length },
      { path: 'manifest.json.asc', data: Buffer.from(sig), size: Buffer.byteLength(sig) },
      { path, data, size: data.length },
    ], new Date(manifest.epoch));
    out.end();
    await finished(out);
    const { v, i } = await both(file);
    expect(v.code, v.stderr).toBe(0);
    expect(i.code, i.stderr).toBe(71);
    expect(i.stderr).toMatch(/^ferry: .*too long for the file system under .*\(ENAMETOOLONG\); nothing was imported\n$/m);
  });

  it(`a signature file of thousands of copies of one packet is refused before any is checked (no key needed)`, async () => {
    const files = [{ path: 'files/s/a', data }];
    const manifest = manifestFor(files);
    const good = await signDetached(Buffer.from(canonicalJson(manifest)), [teamKey], teamKey.getCreationTime());
    const packet = (await openpgp.unarmor(good)).data as Uint8Array;
    const copies = Buffer.concat(Array.from({ length: 5000 }, () => packet));
    const flood = openpgp.armor(openpgp.enums.armor.signature, copies);
    const file = join(dir, 'flood.ferry');
    // over a padded 8 MiB manifest each of the 5000 checks would hash 8 MiB: hours in all before the fix
    const big = Buffer.alloc(8 << 20, 0x20);
    await writeFile(file, craftTar([{ path: 'manifest.json', data: big }, { path: 'manifest.json.asc', data: Buffer.from(flood) }, ...files]));
    const { v, i } = await both(file);
    for (const r of [v, i]) {
      expect(r.code, r.stderr).toBe(66);
      expect(r.stderr).toMatch(new RegExp(`carries 5000 signature packets, more than the ${MAX_SIGNATURES} ferry checks`));
    }
    // and a bundle with MAX_SIGNATURES copies of a good one still verifies
    const ok = join(dir, 'many-good.ferry');
    const enough = openpgp.armor(openpgp.enums.armor.signature, Buffer.concat(Array.from({ length: MAX_SIGNATURES }, () => packet)));
    await writeFile(ok, await craftBundle(manifest, teamKey, files, { signature: enough }));
    const r = await ferry(['verify', ok, '--keyring', team.public]);
    expect(r.code, r.stderr).toBe(0);
    // ferry sign does not write what verify would refuse: one more packet is refused, the bundle unchanged
    const extra = join(dir, 'one-too-many.asc');
    await writeFile(extra, good);
    const before = await readFile(ok);
    const s = await ferry(['sign', ok, '--signature', extra]);
    expect(s.code, s.stderr).toBe(64);
    expect(s.stderr).toMatch(new RegExp(`would hold ${MAX_SIGNATURES + 1} signature packets, more than the ${MAX_SIGNATURES} verify accepts`));
    expect((await readFile(ok)).equals(before)).toBe(true);
  });
});
