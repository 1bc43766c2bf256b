import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { importDemoBundle } from '../helpers/demoBundle.js';
import { snapshotTree } from '../helpers/tree.js';
import { craftBundle, craftTar, manifestFor } from '../helpers/craft.js';
import { generateKey } from '../../src/pgp/generateKey.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { Readable } from 'node:stream';
import { FerryError } from '../../src/errors.js';
import { importBundle } from '../../src/store/importBundle.js';
import { MANIFEST_MAX_BYTES } from '../../src/bundle/manifest.js';


/**
 * Every hostile or damaged bundle is refused by `ferry verify` and `ferry import` with a one-line error
 * that names the problem, and the store is left exactly as it was (no scratch folder either).
 */
describe('ferry import refuses bad bundles and leaves the store as it was', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let teamKey: openpgp.PrivateKey;
  let good: Buffer;
  let store: string;
  const a = Buffer.from('artifact a\n');
  const b = Buffer.from('artifact b\n'.repeat(100));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-refuse-'));
    team = await writeKey(dir, 'team');
    teamKey = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    // a store that already holds one release, so "unchanged" is not trivially "empty"
    ({ store } = await importDemoBundle(dir, team));
    good = await readFile(join(dir, 'demo-1.0.0.ferry'));
  });

  const files = () => [
    { path: 'files/s/a.txt', data: a },
    { path: 'files/s/b.txt', data: b },
  ];

  async function expectRefused(name: string, bytes: Buffer, message: RegExp, code: number, keyring?: string) {
    const file = join(dir, `${name}.ferry`);
    await writeFile(file, bytes);
    const before = await snapshotTree(store);
    const v = await ferry(['verify', file, '--keyring', keyring ?? team.public]);
    expect(v.code, v.stderr).toBe(code);
    expect(v.stderr).toMatch(message);
    const r = await ferry(['import', file, '--keyring', keyring ?? team.public, '--store', store]);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('ferry: '))).toHaveLength(1);
    expect(await snapshotTree(store)).toEqual(before);
  }

  it('a flipped byte in an artifact', async () => {
    const bytes = Buffer.from(good);
    const at = bytes.indexOf('greeting = ');
    bytes[at] ^= 0x01;
    await expectRefused('flipped', bytes, /entry "files\/hello\/hello.conf.tmpl" has sha256 [0-9a-f]{64}, the manifest says/, 67);
  });

  it('a truncated bundle', async () => {
    await expectRefused('truncated', good.subarray(0, good.length - 1500), /truncated/, 68);
  });

  it('a bundle with no signature', async () => {
    const m = manifestFor(files());
    const bytes = craftTar([{ path: 'manifest.json', data: Buffer.from(JSON.stringify(m)) }, ...files()]);
    await expectRefused('unsigned', bytes, /unsigned: the second entry must be manifest.json.asc/, 68);
  });

  it('a signature by a key not in the keyring', async () => {
    const other = await generateKey({ name: 'Mallory' });
    const key = await openpgp.readPrivateKey({ armoredKey: other.secretArmored });
    const bytes = await craftBundle(manifestFor(files()), key, files());
    await expectRefused('untrusted', bytes, /no valid signature by a trusted key \(key [0-9A-F]{16}: not in the keyring\)/, 66);
  });

  it('a signature by an expired key', async () => {
    const old = await generateKey({ name: 'Expired', date: new Date(Date.now() - 3 * 86400_000), expiresIn: 86400 });
    await writeFile(join(dir, 'expired.asc'), old.publicArmored);
    const key = await openpgp.readPrivateKey({ armoredKey: old.secretArmored });
    const m = manifestFor(files());
    const { canonicalJson } = await import('../../src/util/canonicalJson.js');
    const { signDetached } = await import('../../src/pgp/sign.js');
    const sig = await signDetached(Buffer.from(canonicalJson(m)), [key], new Date(Date.now() - 2.5 * 86400_000));
    const bytes = await craftBundle(m, key, files(), { signature: sig });
    await expectRefused('expired', bytes, /key is expired/, 66, join(dir, 'expired.asc'));
  });

  it('a signature by a revoked key', async () => {
    const k = await generateKey({ name: 'Revoked' });
    const key = await openpgp.readPrivateKey({ armoredKey: k.secretArmored });
    const { publicKey } = await openpgp.revokeKey({ key, format: 'armored' });
    await writeFile(join(dir, 'revoked.asc'), publicKey);
    const bytes = await craftBundle(manifestFor(files()), key, files());
    await expectRefused('revoked', bytes, /key is revoked/, 66, join(dir, 'revoked.asc'));
  });

  it('manifest.json changed after signing', async () => {
    const m = manifestFor(files());
    const signed = await craftBundle(m, teamKey, files());
    const text = signed.toString('latin1').replace('"name":"crafted"', '"name":"crafteD"');
    await expectRefused('changed-manifest', Buffer.from(text, 'latin1'), /signature does not match the signed data/, 66);
  });

  it('an entry not listed in the manifest', async () => {
    const bytes = await craftBundle(manifestFor(files()), teamKey, [...files(), { path: 'files/s/zz-extra', data: Buffer.from('x') }]);
    await expectRefused('unlisted', bytes, /entry "files\/s\/zz-extra" is not listed in the signed manifest/, 68);
  });

  it('a listed entry missing', async () => {
    const bytes = await craftBundle(manifestFor(files()), teamKey, files().slice(0, 1));
    await expectRefused('missing', bytes, /1 listed entry is missing: files\/s\/b.txt/, 68);
  });

  it('a duplicated entry', async () => {
    const bytes = await craftBundle(manifestFor(files()), teamKey, [...files(), files()[0]!]);
    await expectRefused('duplicated', bytes, /entry "files\/s\/a.txt" appears twice/, 68);
  });

  it.each([
    ['dotdot', '../escape.txt'],
    ['inner-dotdot', 'files/../../escape.txt'],
    ['absolute', '/etc/escape.txt'],
  ])('a path that escapes the bundle (%s)', async (name, path) => {
    const bytes = await craftBundle(manifestFor(files()), teamKey, [{ path, data: a }, ...files()]);
    await expectRefused(`escape-${name}`, bytes, /escapes the bundle/, 68);
  });

  it.each([
    ['symlink', 'SymbolicLink', /is a symbolic link; a bundle holds only regular files/],
    ['hardlink', 'Link', /is a hard link; a bundle holds only regular files/],
    ['device', 'CharacterDevice', /is a device; a bundle holds only regular files/],
  ] as const)('a %s entry', async (name, type, message) => {
    const bytes = await craftBundle(manifestFor(files()), teamKey, [{ path: 'files/s/a.txt', type, linkpath: '/etc/passwd' }, files()[1]!]);
    await expectRefused(`link-${name}`, bytes, message, 68);
  });

  it('an entry larger than its manifest size', async () => {
    const m = manifestFor(files());
    const bytes = await craftBundle(m, teamKey, [{ path: 'files/s/a.txt', data: Buffer.concat([a, Buffer.from('more')]) }, files()[1]!]);
    await expectRefused('oversized', bytes, /entry "files\/s\/a.txt" is 15 bytes, the manifest says 11 \(larger than its manifest size\)/, 67);
  });

  it('a manifest over the size limit', async () => {
    const header = craftTar([{ path: 'manifest.json', size: MANIFEST_MAX_BYTES + 1 }], { end: false });
    await expectRefused('huge-manifest', header, /manifest.json is \d+ bytes, over the limit of \d+/, 68);
  });

  it('a file that is not a bundle at all', async () => {
    await expectRefused('garbage', Buffer.from('hello, I am not a tar file\n'.repeat(40)), /corrupt tar header|not a ferry bundle/, 68);
  });

  /** a header of the good bundle rewritten, with its checksum made right again so only the change is wrong */
  function withHeader(bytes: Buffer, at: number, edit: (block: Buffer) => void): Buffer {
    const out = Buffer.from(bytes);
    const block = out.subarray(at, at + 512);
    edit(block);
    block.fill(0x20, 148, 156);
    const sum = block.reduce((n, b) => n + b, 0);
    block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    return out;
  }

  it('malformed input of every kind: one line, exit 68, no stack trace, store unchanged', async () => {
    const pax = (body: string) => {
      const block = Buffer.alloc(512);
      new Header({ path: 'PaxHeader/x', mode: 0o644, size: Buffer.byteLength(body), mtime: new Date(0), type: 'ExtendedHeader' }).encode(block);
      return Buffer.concat([block, Buffer.from(body), Buffer.alloc(512 - Buffer.byteLength(body))]);
    };
    const cases: Array<[string, Buffer, RegExp]> = [
      ['gzip', gzipSync(good), /not a ferry bundle: it is gzip-compressed \(a bundle is a plain tar\)/],
      ['zstd', execFileSync('zstd', ['-q', '-c'], { input: good, maxBuffer: 1 << 30 }), /not a ferry bundle: it is zstd-compressed/],
      ['random', randomBytes(64 * 1024), /not a ferry bundle: not a tar archive, bad header at byte 0/],
      ['base256-size', withHeader(good, 0, (b) => b.set([0x80, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0], 124)), /bad header at byte 0 \(parsed number outside of javascript safe integer range\)/],
      ['negative-size', withHeader(good, 0, (b) => b.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe], 124)), /corrupt tar header at byte 0 \(its size field is not a byte count\)/],
      ['bad-checksum', Buffer.concat([good.subarray(0, 100), Buffer.from([good[100]! ^ 1]), good.subarray(101)]), /bad header at byte 0 \(checksum mismatch\)/],
      ['truncated-header', good.subarray(0, 700), /truncated/],
      ['pax-junk', Buffer.concat([pax('this is not a pax record'), good]), /pax header at byte 0 is malformed/],
      ['pax-size', Buffer.concat([pax('11 size=99\n'), good]), /pax header at byte 0 has the key "size", which a ferry bundle never carries/],
      // a number's record carrying text instead: bytes the signature does not cover, riding along with the bundle
      ['pax-mtime-text', Buffer.concat([pax('40 mtime=1764028800 and any text at all\n'), good]), /pax header at byte 0 has a "mtime" record that is not a number/],
      ['pax-uid-text', Buffer.concat([pax('12 uid=root\n'), good]), /pax header at byte 0 has a "uid" record that is not a number/],
    ];
    const before = await snapshotTree(store);
    // in process for every case (what the CLI prints is "ferry: " + this message, exit = exitCode) ...
    for (const [name, bytes, message] of cases) {
      const err = await importBundle(Readable.from([bytes]), { storeDir: store, keys: [teamKey.toPublic()], label: name }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(FerryError);
      expect((err as FerryError).exitCode, `${name}: ${(err as Error).message}`).toBe(68);
      expect((err as Error).message, name).toMatch(message);
      expect((err as Error).message, name).not.toContain('\n');
    }
    expect(await snapshotTree(store)).toEqual(before);
    // ... and through the real command for two of them: one line, no stack trace
    for (const [name, bytes, message] of cases.filter(([n]) => n === 'gzip' || n === 'base256-size')) {
      const file = join(dir, `malformed-${name}.ferry`);
      await writeFile(file, bytes);
      const r = await ferry(['import', file, '--keyring', team.public, '--store', store]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(68);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr, name).toMatch(/^ferry: [^\n]*\n$/);
    }
    expect(await snapshotTree(store)).toEqual(before);
  });

  it('an entry x beside an entry x.blob imports: the importer never uses a name of the bundle for its own files', async () => {
    const twins = [
      { path: 'files/s/x', data: a },
      { path: 'files/s/x.blob', data: b },
    ];
    // x's content is already a blob of the store, so it is swapped for a link to it
    const first = await craftBundle(manifestFor([{ path: 'files/t/a', data: a }], { name: 'holds-a' }), teamKey, [{ path: 'files/t/a', data: a }]);
    const twinsBundle = await craftBundle(manifestFor(twins, { name: 'twins' }), teamKey, twins);
    await writeFile(join(dir, 'holds-a.ferry'), first);
    await writeFile(join(dir, 'twins.ferry'), twinsBundle);
    const s = join(dir, 'twins-store');
    expect((await ferry(['import', join(dir, 'holds-a.ferry'), '--keyring', team.public, '--store', s])).code).toBe(0);
    const r = await ferry(['import', join(dir, 'twins.ferry'), '--keyring', team.public, '--store', s, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const tree = join(s, 'bundles', (JSON.parse(r.stdout) as { digest: string }).digest);
    expect(await readFile(join(tree, 'files/s/x'))).toEqual(a);
    expect(await readFile(join(tree, 'files/s/x.blob'))).toEqual(b);
  });

  it('imports the good bundle again as a no-op that says so', async () => {
    const before = await snapshotTree(store);
    const r = await ferry(['import', join(dir, 'demo-1.0.0.ferry'), '--keyring', team.public, '--store', store]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/is already in .*: nothing to do/);
    expect(await snapshotTree(store)).toEqual(before);
  });
});
