import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createHash, createPrivateKey, sign as rsaSign } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { craftTar, manifestFor } from '../helpers/craft.js';
import { makeGnupg, type Gnupg } from '../helpers/gpg.js';
import { snapshotTree } from '../helpers/tree.js';
import { importDemoBundle } from '../helpers/demoBundle.js';
import { writeKey } from '../helpers/keys.js';
import { canonicalJson } from '../../src/util/canonicalJson.js';
import { signDetached } from '../../src/pgp/sign.js';

const DAY = 86400_000;

/**
 * A signature counts only when the key that made it can sign NOW: a back-dated signature by a subkey
 * that has expired since, or by a key revoked since for any reason, is refused (exit 66) with one line
 * naming the key and the reason. So are signatures an attacker (or an old tool) can make with keys that
 * are valid: weak hashes and keys, a packet version ferry does not read, a signing subkey bound without its
 * back signature or by another key, an encryption subkey used to sign, a signature older than its key.
 * Keys are made by the real gpg where it can make them; openpgp.js crafts what gpg refuses to make.
 */
describe('a signature counts only when its key is valid now', () => {
  let dir: string;
  let gnupg: Gnupg;
  let store: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  const files = [{ path: 'files/s/a.txt', data: Buffer.from('artifact a\n') }];
  const manifest = Buffer.from(canonicalJson(manifestFor(files)));
  /** long enough ago that "since then" is certain, whatever the load on this machine */
  const past = new Date(Date.now() - 3 * DAY);
  const later = (ms: number) => new Date(past.getTime() + ms);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-keyvalid-'));
    gnupg = await makeGnupg(dir);
    await writeFile(join(dir, 'manifest.json'), manifest);
    team = await writeKey(dir, 'team');
    // a store that already holds a release, so "unchanged" is not trivially "empty"
    ({ store } = await importDemoBundle(dir, team));
  });
  afterAll(async () => gnupg?.close());

  async function bundleWith(name: string, signature: string): Promise<string> {
    const file = join(dir, `${name}.ferry`);
    await writeFile(file, craftTar([{ path: 'manifest.json', data: manifest }, { path: 'manifest.json.asc', data: Buffer.from(signature) }, ...files]));
    return file;
  }

  /** a gpg key for `uid` made in the past (a signing primary unless a subkey signs) */
  async function gpgKey(uid: string, opts: { usage?: string; expire?: string; at?: Date } = {}): Promise<string> {
    await gnupg.ok(['--quick-gen-key', uid, 'ed25519', opts.usage ?? 'sign', opts.expire ?? 'never'], { at: opts.at ?? past });
    return gnupg.fingerprint(uid);
  }
  const gpgSign = async (name: string, uid: string, at: Date) => {
    const out = join(dir, `${name}.asc`);
    await gnupg.ok(['--armor', '--detach-sign', '-u', uid, '-o', out, join(dir, 'manifest.json')], { at });
    return readFile(out, 'utf8');
  };
  const exportPublic = async (name: string, uid: string) => {
    const out = join(dir, `${name}.pub.asc`);
    await gnupg.ok(['--yes', '--armor', '--export', '-o', out, uid]);
    return out;
  };

  async function expectRefused(bundle: string, keyrings: string[], reason: RegExp): Promise<string> {
    const args = keyrings.flatMap((k) => ['--keyring', k]);
    const v = await ferry(['verify', bundle, ...args]);
    expect(v.code, v.stderr).toBe(66);
    expect(v.stderr).toMatch(reason);
    expect(v.stderr.trim().split('\n')).toHaveLength(1);
    const before = await snapshotTree(store);
    const i = await ferry(['import', bundle, ...args, '--store', store]);
    expect(i.code, i.stderr).toBe(66);
    expect(i.stderr).toMatch(reason);
    expect(await snapshotTree(store)).toEqual(before);
    return v.stderr;
  }

  async function expectAccepted(bundle: string, keyrings: string[]) {
    const v = await ferry(['verify', bundle, ...keyrings.flatMap((k) => ['--keyring', k]), '--json']);
    expect(v.code, v.stderr).toBe(0);
    return JSON.parse(v.stdout) as { signers: Array<{ fingerprint: string }> };
  }

  it('refuses a signature dated in the future, and one by a key made in the future (gpg --faked-system-time): now is the only date that counts', async () => {
    const future = new Date(Date.now() + 2 * DAY);
    const early = 'Early Signer <early@example.org>';
    await gpgKey(early);
    const dated = await expectRefused(await bundleWith('sig-future', await gpgSign('sig-future', early, future)), [await exportPublic('sig-future', early)], /Signature creation time is in the future/);
    expect(dated).toContain(await gnupg.fingerprint(early));
    const unborn = 'Unborn Key <unborn@example.org>';
    await gpgKey(unborn, { at: future });
    await expectRefused(await bundleWith('key-future', await gpgSign('key-future', unborn, future)), [await exportPublic('key-future', unborn)], /not a valid signing key now .*in the future/);
  });

  it('refuses a back-dated signature by a signing subkey that has expired since (gpg --quick-add-key)', async () => {
    const fpr = await gpgKey('Expiring Subkey <sub@example.org>', { usage: 'cert' });
    await gnupg.ok(['--quick-add-key', fpr, 'ed25519', 'sign', '1d'], { at: past });
    const signature = await gpgSign('expired-sub', 'sub@example.org', later(3600_000));
    const keyring = await exportPublic('expired-sub', 'sub@example.org');
    const err = await expectRefused(await bundleWith('expired-sub', signature), [keyring], /signing subkey is expired \(since \d{4}-/);
    expect(err).toContain(fpr);
    expect(err).toContain('Expiring Subkey <sub@example.org>');
  });

  it('accepts the same kind of key while its signing subkey is valid (the control for the test above)', async () => {
    const fpr = await gpgKey('Valid Subkey <valid@example.org>', { usage: 'cert' });
    await gnupg.ok(['--quick-add-key', fpr, 'ed25519', 'sign', '30d'], { at: past });
    const signature = await gpgSign('valid-sub', 'valid@example.org', later(3600_000));
    const out = await expectAccepted(await bundleWith('valid-sub', signature), [await exportPublic('valid-sub', 'valid@example.org')]);
    expect(out.signers.map((s) => s.fingerprint)).toEqual([fpr]);
  });

  it('refuses a signature by a key its designated revoker revoked (gpg --desig-revoke), the revoker\'s key in another keyring file; accepts it before', async () => {
    const officer = await gpgKey('Revocation Officer <officer@example.org>', { usage: 'cert' });
    // gpg names a designated revoker only in --gen-key's parameters (Revoker:, algorithm 22 is EdDSA)
    const params = join(dir, 'desig.params');
    await writeFile(params, `%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\nName-Email: desig@example.org\nRevoker: 22:${officer}\nExpire-Date: 0\n%commit\n`);
    await gnupg.ok(['--gen-key', params], { at: past });
    const fpr = await gnupg.fingerprint('desig@example.org');
    const bundle = await bundleWith('desig', await gpgSign('desig', 'desig@example.org', later(3600_000)));
    const officerKey = await exportPublic('officer', officer);
    expect((await expectAccepted(bundle, [await exportPublic('desig-before', fpr), officerKey])).signers.map((s) => s.fingerprint)).toEqual([fpr]);
    await gnupg.desigRevoke(officer, fpr, 1, 'key stolen');
    const after = await exportPublic('desig-after', fpr);
    const err = await expectRefused(bundle, [after, officerKey], /key is revoked by its designated revoker [0-9A-F]{40} \(compromised: "key stolen"/);
    expect(err).toContain(officer);
    // the revocation only in a later copy of the key, the first copy carrying a revocation that does not verify
    // (the revocation with one byte of its signature changed): the copies are merged, the revocation counts
    const key = await openpgp.readKey({ armoredKey: await readFile(after, 'utf8') });
    expect(key.revocationSignatures).toHaveLength(1);
    const broken = Buffer.from(key.revocationSignatures[0]!.write());
    broken[broken.length - 1] ^= 1;
    const junk = new openpgp.SignaturePacket();
    junk.read(broken);
    const old = await openpgp.readKey({ armoredKey: await readFile(join(dir, 'desig-before.pub.asc'), 'utf8') });
    old.revocationSignatures = [junk];
    const stale = join(dir, 'desig-stale.asc');
    await writeFile(stale, old.armor());
    expect((await expectAccepted(bundle, [stale, officerKey])).signers.map((s) => s.fingerprint)).toEqual([fpr]);
    await expectRefused(bundle, [stale, after, officerKey], /key is revoked by its designated revoker [0-9A-F]{40} \(compromised: "key stolen"/);
  });

  it('refuses a back-dated signature by a signing subkey that has expired since, whatever an earlier keyring copy of the key carries (a binding dated 2100 that does not verify)', async () => {
    const fpr = await gpgKey('Reviving Subkey <revive@example.org>', { usage: 'cert' });
    await gnupg.ok(['--quick-add-key', fpr, 'ed25519', 'sign', 'never'], { at: past });
    const sub = [...(await gnupg.ok(['--with-colons', '--list-keys', fpr])).stdout.matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]!)[1]!;
    const before = await readFile(await exportPublic('revived-sub-before', 'revive@example.org'), 'utf8');
    // the key owner lets the subkey expire a day later: a newer binding signature (gpg replaces the first)
    await gnupg.ok(['--quick-set-expire', fpr, '1d', sub], { at: later(1000) });
    const bundle = await bundleWith('revived-sub', await gpgSign('revived-sub', 'revive@example.org', later(3600_000)));
    const current = await exportPublic('revived-sub', 'revive@example.org');
    await expectRefused(bundle, [current], /signing subkey is expired/);
    // a copy of the key as it was before (its first binding, no expiry: public, anyone may have kept it) with
    // a copy of that binding re-dated 2100 in front of it (its signature no longer verifies)
    const key = await openpgp.readKey({ armoredKey: before });
    const subkey = key.subkeys.find((k) => k.getFingerprint().toUpperCase() === sub)!;
    expect(subkey.bindingSignatures).toHaveLength(1);
    const first = subkey.bindingSignatures[0]!;
    const bytes = Buffer.from(first.write());
    const created = Buffer.alloc(4);
    created.writeUInt32BE(Math.floor(first.created!.getTime() / 1000));
    const at = bytes.indexOf(Buffer.concat([Buffer.from([5, 2]), created]));
    expect(at).toBeGreaterThan(0);
    bytes.writeUInt32BE(Math.floor(Date.UTC(2100, 0, 1) / 1000), at + 2);
    const redated = new openpgp.SignaturePacket();
    redated.read(bytes);
    subkey.bindingSignatures = [redated, first];
    const stale = join(dir, 'revived-sub-stale.asc');
    await writeFile(stale, key.armor());
    await expectRefused(bundle, [stale, current], /signing subkey is expired/);
    await expectRefused(bundle, [current, stale], /signing subkey is expired/);
  });

  it('refuses a back-dated signature by a primary key that has expired since (gpg --quick-set-expire)', async () => {
    const fpr = await gpgKey('Expiring Primary <primary@example.org>');
    // a second later: a self-signature must be newer than the one it replaces
    await gnupg.ok(['--quick-set-expire', fpr, '1d'], { at: later(1000) });
    const signature = await gpgSign('expired-primary', 'primary@example.org', later(3600_000));
    const err = await expectRefused(await bundleWith('expired-primary', signature), [await exportPublic('expired-primary', 'primary@example.org')], /key is expired \(since \d{4}-/);
    expect(err).toContain(fpr);
  });

  it('refuses a signature whose own expiry time has passed, naming the signature, not the key (gpg --default-sig-expire)', async () => {
    const uid = 'Short Signature <sig-expire@example.org>';
    const fpr = await gpgKey(uid);
    const out = join(dir, 'sig-expired.asc');
    await gnupg.ok(['--default-sig-expire', '1d', '--armor', '--detach-sign', '-u', uid, '-o', out, join(dir, 'manifest.json')], { at: later(3600_000) });
    const err = await expectRefused(await bundleWith('sig-expired', await readFile(out, 'utf8')), [await exportPublic('sig-expired', uid)], /the signature itself is expired/);
    expect(err).toContain(fpr);
    expect(err).not.toMatch(/key is expired/);
  });

  it.each([
    [0, 'no reason given'],
    [1, 'compromised'],
    [2, 'superseded'],
    [3, 'retired'],
  ] as const)('refuses a signature made before its key was revoked with reason code %i (%s), gpg --gen-revoke', async (code, reason) => {
    const uid = `Revoked ${code} <revoked${code}@example.org>`;
    const fpr = await gpgKey(uid);
    const signature = await gpgSign(`revoked-${code}`, uid, later(3600_000));
    await gnupg.revoke(fpr, code, `revoked by the test (${reason})`);
    const keyring = await exportPublic(`revoked-${code}`, uid);
    const err = await expectRefused(await bundleWith(`revoked-${code}`, signature), [keyring], new RegExp(`key is revoked \\(${reason}: "revoked by the test \\(${reason}\\)", on \\d{4}-`));
    expect(err).toContain(fpr);
  });

  it('refuses a signature by a subkey revoked as "retired" after it signed (openpgp.js)', async () => {
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Retired Subkey' }], date: past, subkeys: [{ sign: true }], format: 'object' });
    const subkey = privateKey.subkeys[0]!;
    const msg = await openpgp.createMessage({ binary: manifest });
    const signature = (await openpgp.sign({ message: msg, signingKeys: privateKey, signingKeyIDs: [subkey.getKeyID()], detached: true, date: later(3600_000) })) as string;
    const revoked = await subkey.revoke(privateKey.keyPacket, { flag: openpgp.enums.reasonForRevocation.keyRetired, string: 'rotated' });
    privateKey.subkeys[0] = revoked;
    const keyring = join(dir, 'retired-sub.asc');
    await writeFile(keyring, privateKey.toPublic().armor());
    const err = await expectRefused(await bundleWith('retired-sub', signature), [keyring], /signing subkey is revoked \(retired: "rotated", on \d{4}-/);
    expect(err).toContain(subkey.getKeyID().toHex().toUpperCase());
  });

  it('refuses a signature by a subkey whose current binding no longer allows signing (gpg change-usage to encrypt)', async () => {
    const uid = 'Usage Changed <usage@example.org>';
    const fpr = await gpgKey(uid, { usage: 'cert' });
    await gnupg.ok(['--quick-add-key', fpr, 'rsa2048', 'sign', 'never'], { at: past });
    const signature = await gpgSign('usage', uid, later(3600_000));
    const before = await exportPublic('usage-before', uid);
    // now the owner makes the subkey an encryption key; an importer has the old and the new copy
    await gnupg.editKey(fpr, ['key 1', 'change-usage', 'S', 'E', 'Q', 'save']);
    const after = await exportPublic('usage-after', uid);
    const bundle = await bundleWith('usage', signature);
    expect((await expectAccepted(bundle, [before])).signers.map((s) => s.fingerprint)).toEqual([fpr]);
    await expectRefused(bundle, [before, after], /subkey is not marked for signing/);
  });

  async function writeArmored(name: string, armored: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, armored);
    return file;
  }

  async function gpgKeyAndSignature(name: string, algo: string, signArgs: string[] = [], verifyArgs: string[] = []): Promise<{ keyring: string; signature: string }> {
    const uid = `${name} <${name}@example.org>`;
    await gnupg.ok(['--quick-gen-key', uid, algo, 'sign', 'never'], { at: past });
    const keyring = join(dir, `${name}.pub.asc`);
    await gnupg.ok(['--armor', '--export', '-o', keyring, `${name}@example.org`]);
    const sig = join(dir, `${name}.sig.asc`);
    await gnupg.ok(['--armor', '--detach-sign', ...signArgs, '-u', `${name}@example.org`, '-o', sig, join(dir, 'manifest.json')]);
    // gpg itself verifies each of them (the signature is good; only ferry's rules refuse it)
    const check = await gnupg.gpg([...verifyArgs, '--verify', sig, join(dir, 'manifest.json')]);
    expect(check.code, check.stderr).toBe(0);
    return { keyring, signature: await readFile(sig, 'utf8') };
  }

  it('a SHA-1 data signature by a trusted RSA key (gpg --digest-algo SHA1)', async () => {
    const { keyring, signature } = await gpgKeyAndSignature('sha1', 'rsa2048', ['--digest-algo', 'SHA1']);
    await expectRefused(await bundleWith('sha1', signature), [keyring], /Insecure message hash algorithm: SHA1/);
  });

  it('an MD5 data signature by a trusted RSA key', async () => {
    const { keyring, signature } = await gpgKeyAndSignature('md5', 'rsa2048', ['--digest-algo', 'MD5', '--allow-weak-digest-algos'], ['--allow-weak-digest-algos']);
    await expectRefused(await bundleWith('md5', signature), [keyring], /Insecure hash algorithm: MD5/);
  });

  it('a signature by an RSA key of 1024 bits', async () => {
    const { keyring, signature } = await gpgKeyAndSignature('rsa1024', 'rsa1024');
    await expectRefused(await bundleWith('rsa1024', signature), [keyring], /RSA keys shorter than 2047 bits are considered too weak/);
  });

  it('a signature by a DSA key of 1024 bits', async () => {
    const { keyring, signature } = await gpgKeyAndSignature('dsa1024', 'dsa1024');
    await expectRefused(await bundleWith('dsa1024', signature), [keyring], /dsa keys are considered too weak/i);
  });

  /** a detached binary signature over the manifest made by `signer` (a secret key or subkey packet) at `date`, whatever its flags */
  async function craftSignature(signer: openpgp.SecretKeyPacket | openpgp.SecretSubkeyPacket, date: Date): Promise<string> {
    const literal = new openpgp.LiteralDataPacket();
    literal.setBytes(manifest, openpgp.enums.literal.binary);
    const sig = new openpgp.SignaturePacket();
    sig.signatureType = openpgp.enums.signature.binary;
    sig.publicKeyAlgorithm = signer.algorithm;
    sig.hashAlgorithm = openpgp.enums.hash.sha256;
    await sig.sign(signer, literal, date, true, openpgp.config);
    const list = new openpgp.PacketList();
    list.push(sig);
    return openpgp.armor(openpgp.enums.armor.signature, list.write() as Uint8Array);
  }

  /** a binding of `subkey` to `primary`, made by `by` (the primary's own secret key, or another key's), with the sign flag and no back signature */
  async function craftBinding(by: openpgp.SecretKeyPacket, primary: openpgp.PublicKeyPacket, subkey: openpgp.PublicSubkeyPacket, date: Date): Promise<openpgp.SignaturePacket> {
    const sig = new openpgp.SignaturePacket();
    sig.signatureType = openpgp.enums.signature.subkeyBinding;
    sig.publicKeyAlgorithm = by.algorithm;
    sig.hashAlgorithm = openpgp.enums.hash.sha256;
    sig.keyFlags = [openpgp.enums.keyFlags.signData];
    await sig.sign(by, { key: primary, bind: subkey }, date, false, openpgp.config);
    return sig;
  }

  const asPublicSubkey = (p: openpgp.PublicSubkeyPacket | openpgp.SecretSubkeyPacket) => {
    const copy = new openpgp.PublicSubkeyPacket();
    copy.read(p.writePublicKey());
    return copy;
  };
  const eddsa = (name: string, subkeys: Array<{ sign?: boolean }> = []) =>
    openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name }], subkeys, date: past, format: 'object' }).then((k) => k.privateKey);

  it('a signature by a victim\'s signing subkey, attached to the attacker\'s trusted key by the attacker (no back signature)', async () => {
    const victim = await eddsa('victim', [{ sign: true }]);
    const attacker = await eddsa('attacker');
    const stolen = victim.subkeys.at(-1)!.keyPacket;
    const packets = attacker.toPublic().toPacketList();
    const sub = asPublicSubkey(stolen);
    packets.push(sub, await craftBinding(attacker.keyPacket, attacker.keyPacket, sub, past));
    const keyring = await writeArmored('attacker-with-victim-sub.asc', new openpgp.PublicKey(packets).armor());
    const signature = await craftSignature(stolen as openpgp.SecretSubkeyPacket, new Date(past.getTime() + DAY));
    await expectRefused(await bundleWith('victim-sub', signature), [keyring], /no valid signature by a trusted key \(key [0-9A-F]{16}: not a valid signing key now \(.*Missing embedded signature\) \(key [0-9A-F]{40} "attacker"\)\)/);
  });

  it('a signature by the attacker\'s subkey appended to a copy of a trusted key (a binding the trusted key never made, a good back signature), the copies merged', async () => {
    const victim = await eddsa('trusted victim');
    const attacker = await eddsa('attacker', [{ sign: true }]);
    const own = attacker.subkeys.at(-1)!.keyPacket as openpgp.SecretSubkeyPacket;
    const victimFile = await writeArmored('trusted-victim.asc', victim.toPublic().armor());
    const sub = asPublicSubkey(own);
    // the binding is the attacker's (issuer and signature); the back signature by the subkey is genuine
    const binding = await craftBinding(attacker.keyPacket, victim.keyPacket, sub, past);
    const back = new openpgp.SignaturePacket();
    back.signatureType = openpgp.enums.signature.keyBinding;
    back.publicKeyAlgorithm = own.algorithm;
    back.hashAlgorithm = openpgp.enums.hash.sha256;
    await back.sign(own, { key: victim.keyPacket, bind: sub }, past, false, openpgp.config);
    binding.embeddedSignature = back;
    const packets = victim.toPublic().toPacketList();
    packets.push(sub, binding);
    const extended = await writeArmored('trusted-victim-extended.asc', new openpgp.PublicKey(packets).armor());
    const signature = await craftSignature(own, new Date(past.getTime() + DAY));
    await expectRefused(await bundleWith('appended-sub', signature), [victimFile, extended], /no valid signature by a trusted key \(key [0-9A-F]{16}: signing subkey has no valid binding signature now \(key [0-9A-F]{40} "trusted victim"\)\)/);
  });

  it('a signature by an encryption-only RSA subkey of a trusted key', async () => {
    const { privateKey: key } = await openpgp.generateKey({ type: 'rsa', rsaBits: 2048, userIDs: [{ name: 'encrypting' }], date: past, format: 'object' });
    const encryption = key.subkeys[0]!.keyPacket as openpgp.SecretSubkeyPacket;
    const keyring = await writeArmored('encrypting.asc', key.toPublic().armor());
    await expectRefused(await bundleWith('encryption-sub', await craftSignature(encryption, new Date(past.getTime() + DAY))), [keyring], /subkey is not marked for signing/);
  });

  it('refuses a signature dated while its key was expired, the key valid again now (its expiry extended since), saying so', async () => {
    const fpr = await gpgKey('Lapsed Key <lapsed@example.org>', { expire: '1d' });
    const secret = await openpgp.readPrivateKey({ armoredKey: (await gnupg.ok(['--armor', '--export-secret-keys', fpr])).stdout });
    // gpg does not sign with an expired key: the signature is made as any other tool could date it
    const signature = await craftSignature(secret.keyPacket as openpgp.SecretKeyPacket, later(2 * DAY));
    await gnupg.ok(['--quick-set-expire', fpr, '0']);
    const keyring = await exportPublic('lapsed', 'lapsed@example.org');
    const err = await expectRefused(await bundleWith('lapsed', signature), [keyring], /the key was not valid on the date the signature claims \(\d{4}-\d\d-\d\dT[\d:.]+Z\): expired then, or its self-signature is newer .*; it is valid now: ask for a new signature \(ferry sign\)/);
    expect(err).toContain(fpr);
    // the same key signing now (the control)
    expect((await expectAccepted(await bundleWith('lapsed-now', await craftSignature(secret.keyPacket as openpgp.SecretKeyPacket, new Date())), [keyring])).signers.map((s) => s.fingerprint)).toEqual([fpr]);
  });

  it('ferry sign signs with a key whose expiry was changed after the bundle epoch: dated at its newest self-signature, the signature verifies', async () => {
    const fpr = await gpgKey('Extended Key <extended@example.org>', { expire: '1y' });
    // gpg replaces the self-signature: on the key's creation date (after the epoch) no self-signature is valid yet
    await gnupg.ok(['--quick-set-expire', fpr, '2y'], { at: later(DAY) });
    const secret = join(dir, 'extended.sec.asc');
    await writeFile(secret, (await gnupg.ok(['--armor', '--export-secret-keys', fpr])).stdout);
    const bundle = await bundleWith('extended', '');
    const r = await ferry(['sign', bundle, '--key', secret, '--replace']);
    expect(r.code, r.stderr).toBe(0);
    expect((await expectAccepted(bundle, [await exportPublic('extended', 'extended@example.org')])).signers.map((s) => s.fingerprint)).toEqual([fpr]);
  });

  it('a signature dated before its key was made', async () => {
    const key = await eddsa('young key');
    const keyring = await writeArmored('young.asc', key.toPublic().armor());
    await expectRefused(await bundleWith('before-key', await craftSignature(key.keyPacket, new Date(past.getTime() - DAY))), [keyring], /Key is newer than the signature/);
  });

  it('a version 3 signature packet (RSA, SHA-256) by a trusted RSA key', async () => {
    const { privateKey: key } = await openpgp.generateKey({ type: 'rsa', rsaBits: 2048, userIDs: [{ name: 'v3 signer' }], date: past, format: 'object' });
    const keyring = await writeArmored('v3.asc', key.toPublic().armor());
    const created = Buffer.alloc(4);
    created.writeUInt32BE(Math.floor((past.getTime() + DAY) / 1000));
    // RFC 4880 5.2.2: the hash covers the data, then the type and creation time
    const hashed = Buffer.concat([manifest, Buffer.from([0x00]), created]);
    const value = rsaSign('sha256', hashed, rsaKeyObject(key));
    const mpi = Buffer.concat([Buffer.from([(value.length * 8) >> 8, (value.length * 8) & 0xff]), value]);
    const left16 = createHash('sha256').update(hashed).digest();
    const body = Buffer.concat([Buffer.from([3, 5, 0x00]), created, Buffer.from(key.getKeyID().write()), Buffer.from([1, 8]), Buffer.from(left16).subarray(0, 2), mpi]);
    const packet = Buffer.concat([Buffer.from([0x89, body.length >> 8, body.length & 0xff]), body]);
    const signature = openpgp.armor(openpgp.enums.armor.signature, packet);
    // gpg reads and checks it: a real version 3 signature
    const sig = await writeArmored('v3.sig.asc', signature);
    await gnupg.ok(['--import', keyring]);
    const check = await gnupg.gpg(['--verify', sig, join(dir, 'manifest.json')]);
    expect(check.stderr).toMatch(/Good signature/);
    await expectRefused(await bundleWith('v3', signature), [keyring], /Version 3 of the signature packet is unsupported/);
  });

  describe('copies of one key are merged before verifying, so a revocation anywhere counts', () => {
    let good: string;
    let revoked: string;
    let bundle: string;
    let fpr: string;

    beforeAll(async () => {
      const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Copied Key' }], date: past, format: 'object' });
      fpr = privateKey.getFingerprint().toUpperCase();
      bundle = await bundleWith('copied', await signDetached(manifest, [privateKey], later(3600_000)));
      good = join(dir, 'copied-good.asc');
      await writeFile(good, privateKey.toPublic().armor());
      const r = await openpgp.revokeKey({ key: privateKey, reasonForRevocation: { flag: openpgp.enums.reasonForRevocation.keySuperseded, string: 'see the new key' }, format: 'armored' });
      revoked = join(dir, 'copied-revoked.asc');
      await writeFile(revoked, r.publicKey);
    });

    it('the unrevoked copy alone verifies (the control)', async () => {
      expect((await expectAccepted(bundle, [good])).signers.map((s) => s.fingerprint)).toEqual([fpr]);
    });

    it('refuses when the revoked copy is in a second keyring file, in either order', async () => {
      await expectRefused(bundle, [good, revoked], /key is revoked \(superseded: "see the new key"/);
      await expectRefused(bundle, [revoked, good], /key is revoked \(superseded: "see the new key"/);
    });

    it('refuses when one keyring file holds both copies', async () => {
      const both = join(dir, 'copied-both.asc');
      await writeFile(both, (await readFile(good, 'utf8')) + (await readFile(revoked, 'utf8')));
      await expectRefused(bundle, [both], /key is revoked \(superseded/);
    });

    it('refuses when a binary keyring holds the key twice (gpg --dearmor of both copies)', async () => {
      const both = join(dir, 'copied-both.gpg');
      const bin = async (f: string) => Buffer.from((await openpgp.unarmor(await readFile(f, 'utf8'))).data as Uint8Array);
      await writeFile(both, Buffer.concat([await bin(good), await bin(revoked)]));
      await expectRefused(bundle, [both], /key is revoked \(superseded/);
    });
  });

  describe('a keyring file holding a secret key is refused (exit 64) with a message to pass the public key', () => {
    it('an armored secret key (ferry key generate\'s PREFIX.secret.asc)', async () => {
      const bundle = await bundleWith('team-signed', await signDetached(manifest, [await openpgp.readPrivateKey({ armoredKey: team.secretArmored })], new Date()));
      expect((await expectAccepted(bundle, [team.public])).signers).toHaveLength(1);
      for (const cmd of [['verify', bundle], ['inspect', bundle], ['import', bundle, '--store', store]]) {
        const r = await ferry([...cmd, '--keyring', team.public, '--keyring', team.secret]);
        expect(r.code, r.stderr).toBe(64);
        expect(r.stderr).toContain(`${team.secret} holds the secret key ${team.fingerprint}: pass its public key instead`);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    });

    it('a binary secret keyring exported by gpg', async () => {
      const fpr = await gpgKey('Secret Export <secret@example.org>');
      const out = join(dir, 'secret-export.gpg');
      await gnupg.ok(['--export-secret-keys', '-o', out, fpr]);
      const r = await ferry(['verify', await bundleWith('secret-export', await gpgSign('secret-export', fpr, new Date())), '--keyring', out]);
      expect(r.code, r.stderr).toBe(64);
      expect(r.stderr).toContain(`holds the secret key ${fpr}: pass its public key instead`);
    });
  });
});

/** node's key object for an openpgp.js RSA secret key (openpgp keeps u = p^-1 mod q, so p and q swap places for JWK's qi) */
function rsaKeyObject(key: openpgp.PrivateKey) {
  const pub = (key.keyPacket as unknown as { publicParams: { n: Uint8Array; e: Uint8Array } }).publicParams;
  const priv = (key.keyPacket as unknown as { privateParams: { d: Uint8Array; p: Uint8Array; q: Uint8Array; u: Uint8Array } }).privateParams;
  const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex')}`);
  const b64 = (n: bigint) => {
    let hex = n.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    return Buffer.from(hex, 'hex').toString('base64url');
  };
  const d = big(priv.d);
  const p = big(priv.q);
  const q = big(priv.p);
  return createPrivateKey({
    key: { kty: 'RSA', n: Buffer.from(pub.n).toString('base64url'), e: Buffer.from(pub.e).toString('base64url'), d: b64(d), p: b64(p), q: b64(q), dp: b64(d % (p - 1n)), dq: b64(d % (q - 1n)), qi: b64(big(priv.u)) },
    format: 'jwk',
  });
}
