import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync, constants as zc } from 'node:zlib';
import * as openpgp from 'openpgp';
import { PackageURL } from 'packageurl-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { craftSbomBundle } from '../helpers/craftSbomBundle.js';
import { writeKey } from '../helpers/keys.js';

let dir: string;
let bundle: string;
let keyring: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-vulndb-hostile-'));
  const key = await writeKey(dir, 'team');
  keyring = key.public;
  bundle = join(dir, 'hostapp-1.0.0.ferry');
  const secret = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
  const purl = new PackageURL('pypi', undefined, 'requests', '2.32.0', undefined, undefined).toString();
  await writeFile(bundle, await craftSbomBundle(secret, { name: 'hostapp', components: [{ ref: purl, type: 'library', name: 'requests', version: '2.32.0', purl, path: 'python/files/requests-2.32.0.whl', services: [] }] }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/**
 * A zip whose `count` JSON files (r000000.json…) all point at one deflate stream (overlapping entries, a
 * "flat" zip bomb): each inflates to `mib` MiB of `[`, spaces and `]`, valid JSON, and the zip is about
 * 1/1000 of one file. The stream is 1 MiB segments deflated apart and concatenated (each ends on a byte
 * boundary, only the last is final), so the test never holds the inflated bytes.
 */
function overlappingZip(count: number, mib: number): Buffer {
  const MiB = 1024 * 1024;
  const segments: Buffer[] = [];
  let crc = 0;
  for (let i = 0; i < mib; i++) {
    const chunk = Buffer.alloc(MiB, 0x20);
    if (i === 0) chunk[0] = 0x5b;
    if (i === mib - 1) chunk[MiB - 1] = 0x5d;
    crc = crc32(chunk, crc);
    // the middle segments are all alike: deflated once
    segments.push(i > 0 && i < mib - 1 && segments.length > 1 ? segments[1]! : deflateRawSync(chunk, { level: 9, finishFlush: i === mib - 1 ? zc.Z_FINISH : zc.Z_SYNC_FLUSH }));
  }
  const data = Buffer.concat(segments);
  const size = mib * MiB;
  const first = Buffer.from('a.json');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(first.length, 26);
  const central: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const name = Buffer.from(`r${String(i).padStart(6, '0')}.json`);
    const h = Buffer.alloc(46);
    h.writeUInt32LE(0x02014b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(20, 6);
    h.writeUInt16LE(8, 10);
    h.writeUInt32LE(crc, 16);
    h.writeUInt32LE(data.length, 20);
    h.writeUInt32LE(size, 24);
    h.writeUInt16LE(name.length, 28);
    // offset of the local header: 0, the same for every entry
    central.push(h, name);
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(local.length + first.length + data.length, 16);
  return Buffer.concat([local, first, data, cd, end]);
}

describe('hostile vulnerability data (--db)', () => {
  it('refuses a zip whose JSON files together hold more than 4 GiB before inflating any (exit 65, one line): a small zip of overlapping entries is not hours of work', async () => {
    // 9 files of 500 MiB each (under the 512 MiB bound of one file) in a zip of some 500 KB
    const bomb = join(dir, 'bomb.zip');
    await writeFile(bomb, overlappingZip(9, 500));
    const r = await ferry(['audit', bundle, '--keyring', keyring, '--db', bomb]);
    expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([65, [`ferry: ${bomb}: its 9 JSON files hold ${9 * 500 * 1024 * 1024} bytes; refusing more than ${4 * 1024 ** 3} in one zip, before inflating any`], '']);
  });

  it('reads the same kind of zip when its files stay under that sum: the bound refuses only what is too large', async () => {
    // the same overlapping entries, 2 of 1 MiB: real JSON (an empty list of records), read and found to hold no record
    const small = join(dir, 'small.zip');
    await writeFile(small, overlappingZip(2, 1));
    const r = await ferry(['audit', bundle, '--keyring', keyring, '--db', small]);
    expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([65, [`ferry: ${small}: no OSV record of the Debian or PyPI ecosystems (it holds no OSV record): this data cannot say a bundle is clean`], '']);
  });
});

describe('vulnerability data that is not a regular file (--db)', () => {
  it('refuses a device or a FIFO by what it is (exit 64, one line), without reading it: /dev/zero never ends', async () => {
    // a FIFO with no writer: not opened for a read that would wait for one
    const fifo = join(dir, 'osv.fifo');
    expect((await run('mkfifo', [fifo])).code).toBe(0);
    const f = await ferry(['audit', bundle, '--keyring', keyring, '--db', fifo]);
    expect([f.code, f.stderr.trim().split('\n'), f.stdout]).toEqual([64, [`ferry: ${fifo} is not a regular file: --db reads vulnerability data from a file`], '']);
    const r = await ferry(['audit', bundle, '--keyring', keyring, '--db', '/dev/zero']);
    expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([64, ['ferry: /dev/zero is not a regular file: --db reads vulnerability data from a file'], '']);
  });
});

describe('a package whose version is 0', () => {
  it("is affected by a range introduced at '0' (OSV's 'every version'), not passed over as clean", async () => {
    const d = await mkdtemp(join(tmpdir(), 'ferry-vulndb-zero-'));
    try {
      const key = await writeKey(d, 'team');
      const secret = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
      const purl = new PackageURL('pypi', undefined, 'zeropkg', '0', undefined, undefined).toString();
      const b = join(d, 'zeroapp-1.0.0.ferry');
      await writeFile(b, await craftSbomBundle(secret, { name: 'zeroapp', components: [{ ref: purl, type: 'library', name: 'zeropkg', version: '0', purl, path: 'python/files/zeropkg-0.whl', services: [] }] }));
      const db = join(d, 'osv.json');
      await writeFile(db, JSON.stringify([{ id: 'GHSA-zero', affected: [{ package: { ecosystem: 'PyPI', name: 'zeropkg' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0' }] }] }] }]));
      const r = await ferry(['audit', b, '--keyring', key.public, '--db', db, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).findings).toEqual([{ kind: 'wheel', package: 'zeropkg', version: '0', fixed: '1.0', ids: ['GHSA-zero'], severity: 'unknown' }]);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
