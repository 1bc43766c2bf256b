import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { craftTar, manifestFor } from '../helpers/craft.js';
import { makeGnupg, type Gnupg } from '../helpers/gpg.js';
import { writeKey } from '../helpers/keys.js';
import { canonicalJson } from '../../src/util/canonicalJson.js';
import { signDetached } from '../../src/pgp/sign.js';

interface Ignored {
  index: number;
  keyID?: string;
  reason: string;
}

/**
 * Only binary signatures over the exact manifest bytes count, and each signature packet is judged on its
 * own: a broken co-signature is reported and ignored, never a reason to refuse a bundle that also
 * carries a good signature by a trusted key.
 */
describe('signature forms and co-signatures', () => {
  let dir: string;
  let gnupg: Gnupg;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let teamKey: openpgp.PrivateKey;
  let good: string;
  const files = [{ path: 'files/s/a.txt', data: Buffer.from('artifact a\n') }];
  const manifest = Buffer.from(canonicalJson(manifestFor(files)));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-sigforms-'));
    gnupg = await makeGnupg(dir);
    team = await writeKey(dir, 'team');
    teamKey = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    good = await signDetached(manifest, [teamKey], new Date());
    await writeFile(join(dir, 'manifest.json'), manifest);
  });
  afterAll(async () => gnupg?.close());

  async function bundleWith(name: string, signature: string): Promise<string> {
    const file = join(dir, `${name}.ferry`);
    await writeFile(file, craftTar([{ path: 'manifest.json', data: manifest }, { path: 'manifest.json.asc', data: Buffer.from(signature) }, ...files]));
    return file;
  }

  const armorPacket = (bytes: Uint8Array) => openpgp.armor(openpgp.enums.armor.signature, bytes);
  const packetOf = async (armored: string) => Uint8Array.from((await openpgp.unarmor(armored)).data as Uint8Array);

  it('refuses a text-mode signature (type 0x01) by a trusted key, made by gpg --textmode', async () => {
    await gnupg.ok(['--quick-gen-key', 'Text Mode <text@example.org>', 'ed25519', 'sign', 'never']);
    const keyring = join(dir, 'text.asc');
    await gnupg.ok(['--armor', '--export', '-o', keyring, 'text@example.org']);
    const sig = join(dir, 'text-mode.asc');
    await gnupg.ok(['--armor', '--textmode', '--detach-sign', '-u', 'text@example.org', '-o', sig, join(dir, 'manifest.json')]);
    // gpgv accepts it: the signature is good, only its mode is refused
    const gpgv = await gnupg.gpg(['--verify', sig, join(dir, 'manifest.json')]);
    expect(gpgv.code, gpgv.stderr).toBe(0);
    const bundle = await bundleWith('text-mode', await readFile(sig, 'utf8'));
    const r = await ferry(['verify', bundle, '--keyring', keyring]);
    expect(r.code, r.stderr).toBe(66);
    expect(r.stderr).toMatch(/no valid signature by a trusted key \(key [0-9A-F]{16}: text-mode signature \(type 0x01\): only binary signatures \(type 0x00\) over the exact bytes count/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // a binary signature by the same key verifies (the control)
    await gnupg.ok(['--yes', '--armor', '--detach-sign', '-u', 'text@example.org', '-o', sig, join(dir, 'manifest.json')]);
    const ok = await ferry(['verify', await bundleWith('binary-mode', await readFile(sig, 'utf8')), '--keyring', keyring]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  const broken: Array<[string, () => Promise<string>, RegExp]> = [
    ['an unreadable packet', async () => armorPacket(Uint8Array.from([0xc2, 5, 4, 0, 1, 2, 3])), /unreadable signature packet/],
    ['an armor block with no packet', async () => '-----BEGIN PGP SIGNATURE-----\n\n@@@@\n-----END PGP SIGNATURE-----\n', /empty signature block/],
    [
      'an unknown public-key algorithm',
      async () => {
        const p = await packetOf(good);
        p[4] = 99; // new-format header of 2 octets, then version, type, public-key algorithm
        return armorPacket(p);
      },
      /Unknown signature algorithm/,
    ],
    [
      'an unknown hash algorithm',
      async () => {
        const p = await packetOf(good);
        p[5] = 99;
        return armorPacket(p);
      },
      /hash|algorithm/i,
    ],
    ['a bad signature by the trusted key', async () => signDetached(Buffer.from('other bytes\n'), [teamKey], new Date()), /signature does not match the signed data/],
    [
      'a key not in the keyring',
      async () => {
        const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Stranger' }], format: 'object' });
        return signDetached(manifest, [privateKey], new Date());
      },
      /not in the keyring/,
    ],
    [
      'a text-mode signature by the trusted key',
      async () => {
        const message = await openpgp.createMessage({ text: manifest.toString('utf8') });
        return (await openpgp.sign({ message, signingKeys: teamKey, detached: true })) as string;
      },
      /text-mode signature \(type 0x01\)/,
    ],
  ];

  it.each(broken)('a bundle carrying %s before a good signature verifies, imports, and says which signature was ignored', async (name, make, reason) => {
    const slug = name.replace(/\W+/g, '-');
    const bundle = await bundleWith(slug, (await make()) + good);

    const v = await ferry(['verify', bundle, '--keyring', team.public, '--json']);
    expect(v.code, v.stderr).toBe(0);
    const out = JSON.parse(v.stdout) as { signers: Array<{ fingerprint: string }>; ignored: Ignored[] };
    expect(out.signers.map((s) => s.fingerprint)).toEqual([team.fingerprint]);
    expect(out.ignored).toHaveLength(1);
    expect(out.ignored[0]!.index).toBe(1);
    expect(out.ignored[0]!.reason).toMatch(reason);

    const plain = await ferry(['verify', bundle, '--keyring', team.public]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/^warning: .*manifest\.json: signature 1( by key [0-9A-F]{16})? ignored: /m);
    expect(plain.stderr).toMatch(reason);

    const inspect = await ferry(['inspect', bundle, '--keyring', team.public, '--json']);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect((JSON.parse(inspect.stdout) as { ignored: Ignored[] }).ignored).toEqual(out.ignored);

    const imported = await ferry(['import', bundle, '--keyring', team.public, '--store', join(dir, `store-${slug}`), '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect((JSON.parse(imported.stdout) as { ignored: Ignored[] }).ignored).toEqual(out.ignored);
  });

  it('ferry inspect without a keyring names the packets that are no signature at all', async () => {
    const bundle = await bundleWith('inspect-unreadable', good + armorPacket(Uint8Array.from([0xc2, 5, 4, 0, 1, 2, 3])));
    const r = await ferry(['inspect', bundle, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { signatures: string[]; ignored: Ignored[] };
    expect(out.signatures).toEqual([(await openpgp.readKey({ armoredKey: team.publicArmored })).getKeyID().toHex().toUpperCase()]);
    expect(out.ignored).toEqual([{ index: 2, reason: expect.stringMatching(/unreadable signature packet/) }]);
  });

  it('refuses a bundle whose signatures are all broken, naming each and why', async () => {
    const parts = await Promise.all(broken.map(([, make]) => make()));
    const r = await ferry(['verify', await bundleWith('all-broken', parts.join('')), '--keyring', team.public]);
    expect(r.code, r.stderr).toBe(66);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    for (const [, , reason] of broken) expect(r.stderr).toMatch(reason);
  });

  it('ferry sign keeps a co-signature it cannot read, byte for byte, beside the one it adds', async () => {
    const unreadable = armorPacket(Uint8Array.from([0xc2, 5, 4, 0, 1, 2, 3]));
    const bundle = await bundleWith('sign-keeps', unreadable);
    const signed = join(dir, 'sign-keeps-signed.ferry');
    const r = await ferry(['sign', bundle, '--key', team.secret, '--out', signed]);
    expect(r.code, r.stderr).toBe(0);
    const v = await ferry(['verify', signed, '--keyring', team.public, '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect((JSON.parse(v.stdout) as { ignored: Ignored[] }).ignored).toEqual([{ index: 1, reason: expect.stringMatching(/unreadable signature packet/) }]);
  });

  it.each([
    ['no armored block', 'placeholder: to be signed by the release team\n'],
    ['nothing', ''],
  ])('ferry sign refuses a bundle whose signature holds %s with one line (66) naming --replace, leaves it as it was, and --replace signs it', async (_, signature) => {
    const bundle = await bundleWith(`sign-unarmored-${signature.length}`, signature);
    const before = await readFile(bundle);
    const r = await ferry(['sign', bundle, '--key', team.secret]);
    expect(r.code, r.stderr).toBe(66);
    expect(r.stderr).toBe(`ferry: ${bundle}: its manifest.json.asc is not a readable OpenPGP signature (no armored signature block): pass --replace to sign it with only the new signatures\n`);
    expect((await readFile(bundle)).equals(before)).toBe(true);
    const replaced = await ferry(['sign', bundle, '--key', team.secret, '--replace']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect((await ferry(['verify', bundle, '--keyring', team.public])).code).toBe(0);
  });

  it('ferry sign refuses a --signature file that holds no signature with one line (66), and leaves the bundle as it was', async () => {
    const bundle = await bundleWith('sign-not-a-signature', good);
    const before = await readFile(bundle);
    const notSignature = join(dir, 'not-a-signature.asc');
    await writeFile(notSignature, team.publicArmored);
    const r = await ferry(['sign', bundle, '--signature', notSignature]);
    expect(r.code, r.stderr).toBe(66);
    expect(r.stderr).toBe(`ferry: ${notSignature}: signature is not a readable OpenPGP signature (no armored signature block)\n`);
    expect((await readFile(bundle)).equals(before)).toBe(true);
  });

  it('ferry sign refuses (64) to write a signature larger than every reader accepts, and leaves the bundle as it was', async () => {
    // a co-signature block just under the 1 MiB readers accept: one packet, kept byte for byte, plus the new one is over
    const limit = 1024 * 1024;
    const block = (n: number) => {
      const packet = new Uint8Array(6 + n);
      packet.set([0xcb, 0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
      return armorPacket(packet);
    };
    let n = Math.floor(((limit - 200) * 3) / 4 / 1.02);
    for (const step of [4800, 48, 3]) while (Buffer.byteLength(good + block(n + step)) < limit - 20) n += step;
    const bundle = await bundleWith('sign-too-large', good + block(n));
    expect(Buffer.byteLength(good + block(n))).toBeLessThan(limit);
    expect((await ferry(['verify', bundle, '--keyring', team.public])).code).toBe(0);
    const before = await readFile(bundle);
    const r = await ferry(['sign', bundle, '--key', team.secret]);
    expect(r.code, r.stderr).toBe(64);
    expect(r.stderr).toMatch(/^ferry: the signatures would take \d+ bytes, more than the 1048576 bytes verify and import accept: replace old ones \(--replace\) instead of adding\n$/);
    expect((await readFile(bundle)).equals(before)).toBe(true);
  });

  it('ferry sign refuses a --signature file it cannot read with one line (64), and leaves the bundle as it was', async () => {
    const bundle = await bundleWith('sign-missing', good);
    const before = await readFile(bundle);
    const r = await ferry(['sign', bundle, '--signature', join(dir, 'no-such-signature.asc')]);
    expect(r.code, r.stderr).toBe(64);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('cannot read signature')]);
    expect((await readFile(bundle)).equals(before)).toBe(true);
  });
});
