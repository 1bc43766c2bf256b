import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { buildDemoBundle } from '../helpers/demoBundle.js';
import { makeGnupg, type Gnupg } from '../helpers/gpg.js';
import { writeKey } from '../helpers/keys.js';

let dir: string;
let bundle: string;
let gnupg: Gnupg;
let alice: { secret: string; public: string; fingerprint?: string };
const fpr: Record<string, string> = {};
let signed = 0;

/** a second team signs with its own gpg: the recipe of README "Co-signing" */
async function cosign(file: string, uid: string, extra: string[] = []): Promise<void> {
  const manifest = join(dir, `manifest-${uid}-${++signed}.json`);
  const head = await ferry(['inspect', file, '--manifest']);
  await writeFile(manifest, head.stdout);
  await gnupg.ok(['--armor', '--detach-sign', '-u', fpr[uid]!, '-o', `${manifest}.asc`, manifest]);
  const added = await ferry(['sign', file, '--signature', `${manifest}.asc`, ...extra]);
  expect(added.code, added.stderr).toBe(0);
}

async function policy(name: string, rules: string): Promise<string> {
  const file = join(dir, `${name}.policy.yaml`);
  await writeFile(file, `keys:\n  alice: alice.asc\n  bob: bob.asc\n  carol: ${fpr.carol}\n${rules}`);
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-policy-'));
  alice = await writeKey(dir, 'alice');
  gnupg = await makeGnupg(dir);
  // bob's next key carries bob's own address (the same person); alice's personal key, her own
  for (const [uid, id] of [['bob', 'bob <bob@security.example>'], ['carol', 'carol <carol@security.example>'], ['bob-2027', 'bob 2027 <bob@security.example>'], ['alice-personal', 'alice <alice@personal.example>']] as const) {
    await gnupg.ok(['--quick-gen-key', id, 'ed25519', 'sign', 'never']);
    fpr[uid] = await gnupg.fingerprint(id);
    await writeFile(join(dir, `${uid}.asc`), (await gnupg.ok(['--armor', '--export', fpr[uid]!])).stdout);
  }
  bundle = await buildDemoBundle(dir, alice.secret);
});
afterAll(async () => {
  await gnupg?.close();
  await rm(dir, { recursive: true, force: true });
});

const TWO_OF_THREE = 'rules:\n  - names: ["demo", "demo-*"]\n    signers: [alice, bob, carol]\n    require: 2\n';

describe('signing policy', () => {
  it('refuses a bundle short of signatures (exit 66) naming who signed and who may still sign, and records it', async () => {
    const file = await policy('two-of-three', TWO_OF_THREE);
    const store = join(dir, 'store-short');
    const r = await ferry(['import', bundle, '--policy', file, '--store', store]);
    expect(r.code, r.stderr).toBe(66);
    expect(r.stderr).toContain('signing policy not met: rule demo,demo-* needs 2 of alice, bob, carol; signed by alice; may still sign: bob, carol');
    const v = await ferry(['verify', bundle], { env: { FERRY_POLICY: file } });
    expect(v.code).toBe(66);
    const inspected = await ferry(['inspect', bundle, '--policy', file]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain('policy NOT met');
    const audit = await ferry(['audit', 'verify', '--store', store, '--json']);
    expect(JSON.parse(audit.stdout)).toMatchObject({ ok: true, records: 1 });
  });

  it('accepts the bundle once a second team co-signed it with real gpg', async () => {
    const file = await policy('two-of-three-b', TWO_OF_THREE);
    const cosigned = join(dir, 'cosigned', 'demo-1.0.0.ferry');
    await cp(bundle, cosigned);
    await cosign(cosigned, 'bob', ['--keyring', join(dir, 'bob.asc')]);
    const r = await ferry(['verify', cosigned, '--policy', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { policy: { met: boolean; signedBy: string[]; signatures: Array<{ as: string }> } };
    expect(out.policy.met).toBe(true);
    expect(out.policy.signedBy.sort()).toEqual(['alice', 'bob']);
    const store = join(dir, 'store-met');
    const imported = await ferry(['import', cosigned, '--policy', file, '--store', store]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('policy met');
  });

  it('counts a key only for the names its rule covers, and refuses a name no rule covers', async () => {
    const otherName = await policy('other-name', 'rules:\n  - names: "openstack-*"\n    signers: [alice]\n    require: 1\n');
    const r = await ferry(['verify', bundle, '--policy', otherName]);
    expect(r.code).toBe(66);
    expect(r.stderr).toContain('no rule of');
    expect(r.stderr).toContain('covers the bundle name demo');
    const othersOnly = await policy('others-only', 'rules:\n  - names: "demo"\n    signers: [bob, carol]\n    require: 1\n  - names: "*"\n    signers: [alice]\n    require: 1\n');
    const s = await ferry(['verify', bundle, '--policy', othersOnly]);
    expect(s.code).toBe(66);
    expect(s.stderr).toContain('signed by none of them (not counted for this name: alice); may still sign: bob, carol');
  });

  it('refuses a policy that lists one key under two names (exit 65, one line): a key is one signer', async () => {
    // the same key as a file and as its fingerprint (lower case): a signature by it once counted as the first name only,
    // so a rule naming the second refused alice's own signature as "not counted for this name"
    const file = join(dir, 'one-key-two-names.policy.yaml');
    await writeFile(file, `keys:\n  alice: alice.asc\n  alice-again: ${alice.fingerprint!.toLowerCase()}\n  bob: bob.asc\nrules:\n  - names: demo\n    signers: [alice-again, bob]\n    require: 1\n`);
    const r = await ferry(['verify', bundle, '--policy', file]);
    expect([r.code, r.stderr.trim().split('\n')]).toEqual([65, [`ferry: ${file}: keys alice and alice-again are the same key ${alice.fingerprint!.toUpperCase()}: a key is one signer, give it one name`]]);
    expect(r.stdout).toBe('');
  });

  it('accepts a rotated key certified by the old one for the names the old one covered, counted once with it', async () => {
    const file = await policy('rotation', 'rules:\n  - names: demo\n    signers: [alice, bob]\n    require: 2\n');
    await gnupg.ok(['-u', fpr.bob!, '--quick-sign-key', fpr['bob-2027']!]);
    await writeFile(join(dir, 'bob-2027.asc'), (await gnupg.ok(['--armor', '--export', fpr['bob-2027']!])).stdout);
    const rotated = join(dir, 'rotated', 'demo-1.0.0.ferry');
    await cp(bundle, rotated);
    await cosign(rotated, 'bob-2027');
    const r = await ferry(['verify', rotated, '--policy', file, '--keyring', join(dir, 'bob-2027.asc'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { policy: { signatures: Array<{ fingerprint: string; as: string }> } };
    expect(out.policy.signatures).toContainEqual(expect.objectContaining({ fingerprint: fpr['bob-2027'], as: 'bob' }));
    // the old and the new key of one person are one signer: without alice's signature, bob twice is not two
    const alone = join(dir, 'alone', 'demo-1.0.0.ferry');
    await cp(bundle, alone);
    const h = await ferry(['inspect', alone, '--manifest']);
    const m = join(dir, 'alone-manifest.json');
    await writeFile(m, h.stdout);
    await gnupg.ok(['--armor', '--detach-sign', '-u', fpr.bob!, '-o', `${m}.1.asc`, m]);
    await gnupg.ok(['--armor', '--detach-sign', '-u', fpr['bob-2027']!, '-o', `${m}.2.asc`, m]);
    expect((await ferry(['sign', alone, '--replace', '--signature', `${m}.1.asc`, '--signature', `${m}.2.asc`])).code).toBe(0);
    const once = await ferry(['verify', alone, '--policy', file, '--keyring', join(dir, 'bob-2027.asc')]);
    expect(once.code).toBe(66);
    expect(once.stderr).toContain('signed by bob; may still sign: alice');
  });

  it("does not count a person's second key as the policy key that certified it for its owner (a key signing party)", async () => {
    const file = await policy('signing-party', 'rules:\n  - names: demo\n    signers: [alice, bob]\n    require: 2\n');
    // bob vouches that this key is alice's, as a key signing party does: that makes it alice's, not bob's
    await gnupg.ok(['-u', fpr.bob!, '--quick-sign-key', fpr['alice-personal']!]);
    const team = join(dir, 'team.asc');
    await writeFile(team, (await gnupg.ok(['--armor', '--export', fpr['alice-personal']!])).stdout);
    const twice = join(dir, 'alice-twice', 'demo-1.0.0.ferry');
    await cp(bundle, twice);
    await cosign(twice, 'alice-personal');
    const r = await ferry(['verify', twice, '--policy', file, '--keyring', team]);
    expect(r.code, r.stdout).toBe(66);
    expect(r.stderr).toContain(`signed by alice (not counted for this name: ${fpr['alice-personal']}); may still sign: bob`);
  });

  it("does not take a user ID added to a keyring copy of a policy key, without the key's own self-signature, as that key's (a certified stranger stays a stranger)", async () => {
    const file = await policy('added-uid', 'rules:\n  - names: demo\n    signers: [alice, bob]\n    require: 2\n');
    // bob certified mallory's key at a key signing party: mallory's key counts as nobody
    const id = 'mallory <mallory@party.example>';
    await gnupg.ok(['--quick-gen-key', id, 'ed25519', 'sign', 'never']);
    const mallory = await gnupg.fingerprint(id);
    await gnupg.ok(['-u', fpr.bob!, '--quick-sign-key', mallory]);
    const malloryKey = join(dir, 'mallory.asc');
    await writeFile(malloryKey, (await gnupg.ok(['--armor', '--export', mallory])).stdout);
    // mallory hands over a copy of bob's public key with mallory's user ID appended, signed by nobody
    const bobKey = await openpgp.readKey({ armoredKey: await readFile(join(dir, 'bob.asc'), 'utf8') });
    const packets = bobKey.toPacketList();
    packets.push(openpgp.UserIDPacket.fromObject({ name: 'mallory', email: 'mallory@party.example' }));
    const bobCopy = join(dir, 'bob-copy.asc');
    await writeFile(bobCopy, new openpgp.PublicKey(packets).armor());
    const copy = join(dir, 'added-uid', 'demo-1.0.0.ferry');
    await cp(bundle, copy);
    const manifest = join(dir, 'added-uid-manifest.json');
    await writeFile(manifest, (await ferry(['inspect', copy, '--manifest'])).stdout);
    await gnupg.ok(['--armor', '--detach-sign', '-u', mallory, '-o', `${manifest}.asc`, manifest]);
    expect((await ferry(['sign', copy, '--signature', `${manifest}.asc`])).code).toBe(0);
    const r = await ferry(['verify', copy, '--policy', file, '--keyring', malloryKey, '--keyring', bobCopy]);
    expect([r.code, r.stderr.trim().split('\n')], r.stdout).toEqual([66, [expect.stringContaining(`signed by alice (not counted for this name: ${mallory}); may still sign: bob`)]]);
  });

  describe('a certification counts only while the policy key that made it is valid now', () => {
    let g: Gnupg;
    const DAY = 86400_000;
    const keys: Record<string, string> = {};
    const file = () => join(dir, 'erin.policy.yaml');

    /** erin's next key, certified by erin's key (made and certified at `at`), signs a copy of the bundle */
    async function rotated(name: string, erin: { expire: string; at: Date }): Promise<string> {
      for (const [uid, id, expire] of [[`${name}-old`, `erin ${name} <erin@security.example>`, erin.expire], [`${name}-new`, `erin ${name} next <erin@security.example>`, 'never']] as const) {
        await g.ok(['--quick-gen-key', id, 'ed25519', 'sign', expire], { at: erin.at });
        keys[uid] = await g.fingerprint(id);
      }
      await g.ok(['-u', keys[`${name}-old`]!, '--quick-sign-key', keys[`${name}-new`]!], { at: new Date(erin.at.getTime() + 60_000) });
      for (const k of [`${name}-old`, `${name}-new`]) await writeFile(join(dir, `${k}.asc`), (await g.ok(['--armor', '--export', keys[k]!])).stdout);
      await writeFile(file(), `keys:\n  alice: alice.asc\n  erin: ${name}-old.asc\nrules:\n  - names: demo\n    signers: [alice, erin]\n    require: 2\n`);
      const copy = join(dir, name, 'demo-1.0.0.ferry');
      await cp(bundle, copy);
      const m = join(dir, `${name}-manifest.json`);
      await writeFile(m, (await ferry(['inspect', copy, '--manifest'])).stdout);
      await g.ok(['--armor', '--detach-sign', '-u', keys[`${name}-new`]!, '-o', `${m}.asc`, m]);
      expect((await ferry(['sign', copy, '--signature', `${m}.asc`])).code).toBe(0);
      return copy;
    }

    beforeAll(async () => {
      g = await makeGnupg(dir, 'gnupg-erin');
    });
    afterAll(async () => g?.close());

    it('refuses the rotated key once the old key is revoked, its revocation in another keyring file (the control passes first)', async () => {
      const copy = await rotated('revoked', { expire: 'never', at: new Date(Date.now() - DAY) });
      const control = await ferry(['verify', copy, '--policy', file(), '--keyring', join(dir, 'revoked-new.asc')]);
      expect(control.code, control.stderr).toBe(0);
      await g.revoke(keys['revoked-old']!, 1, 'stolen');
      const revoked = join(dir, 'revoked-old.revoked.asc');
      await writeFile(revoked, (await g.ok(['--armor', '--export', keys['revoked-old']!])).stdout);
      const r = await ferry(['verify', copy, '--policy', file(), '--keyring', join(dir, 'revoked-new.asc'), '--keyring', revoked]);
      expect(r.code, r.stdout).toBe(66);
      expect(r.stderr).toContain('signed by alice (not counted for this name');
    });

    it('refuses a key certified, back-dated, by an old key that has expired since', async () => {
      const copy = await rotated('expired', { expire: '1d', at: new Date(Date.now() - 30 * DAY) });
      const r = await ferry(['verify', copy, '--policy', file(), '--keyring', join(dir, 'expired-new.asc')]);
      expect(r.code, r.stdout).toBe(66);
      expect(r.stderr).toContain('signed by alice (not counted for this name');
    });
  });
});

/**
 * A key whose primary only certifies and whose signing is a subkey's (gpg's usual layout for a key kept offline).
 * A policy naming it by the subkey's fingerprint never matched: signatures count under the primary's fingerprint.
 * And openpgp.js took a certification made by that signing-only subkey as the key's: only the primary certifies.
 */
describe('a policy key with a signing subkey', () => {
  let dave: { primary: string; subkey: string; file: string };
  beforeAll(async () => {
    const id = 'dave <dave@security.example>';
    await gnupg.ok(['--quick-gen-key', id, 'ed25519', 'cert', 'never']);
    const primary = await gnupg.fingerprint(id);
    await gnupg.ok(['--quick-add-key', primary, 'ed25519', 'sign', 'never']);
    const fprs = [...(await gnupg.ok(['--with-colons', '--list-keys', primary])).stdout.matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]!);
    expect(fprs).toHaveLength(2);
    const file = join(dir, 'dave.asc');
    await writeFile(file, (await gnupg.ok(['--armor', '--export', primary])).stdout);
    dave = { primary, subkey: fprs[1]!, file };
    fpr.dave = primary;
  });

  it('counts a signature by the subkey for a policy key given as that subkey\'s fingerprint (it names its primary key)', async () => {
    const file = join(dir, 'subkey.policy.yaml');
    await writeFile(file, `keys:\n  alice: alice.asc\n  dave: ${dave.subkey}\nrules:\n  - names: demo\n    signers: [alice, dave]\n    require: 2\n`);
    const copy = join(dir, 'by-subkey', 'demo-1.0.0.ferry');
    await cp(bundle, copy);
    await cosign(copy, 'dave');
    const r = await ferry(['verify', copy, '--policy', file, '--keyring', dave.file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { policy: { signedBy: string[]; signatures: Array<{ fingerprint: string; as: string }> } };
    expect(out.policy.signatures).toContainEqual(expect.objectContaining({ fingerprint: dave.primary, as: 'dave' }));
    expect(out.policy.signedBy.sort()).toEqual(['alice', 'dave']);
    // the primary's file and its subkey's fingerprint are one key: refused as two names of one key (exit 65, one line)
    const twice = join(dir, 'subkey-twice.policy.yaml');
    await writeFile(twice, `keys:\n  alice: alice.asc\n  dave: dave.asc\n  dave-sub: ${dave.subkey}\nrules:\n  - names: demo\n    signers: [alice, dave]\n    require: 2\n`);
    const t = await ferry(['verify', copy, '--policy', twice, '--keyring', dave.file]);
    expect([t.code, t.stderr.trim().split('\n')]).toEqual([65, [expect.stringMatching(new RegExp(`^ferry: ${twice}: keys dave and dave-sub are the same key ${dave.primary} \\(one of them by a subkey's fingerprint\\)`))]]);
  });

  it('counts a key once however many of its signatures a bundle carries: the same subkey twice, and a second signing subkey of the same key', async () => {
    const home = await makeGnupg(dir, 'gnupg-two-subkeys');
    try {
      // dave's key with a second signing subkey, in a home of its own (the other tests keep dave as he is)
      await home.ok(['--import'], { input: (await gnupg.ok(['--armor', '--export-secret-keys', dave.primary])).stdout });
      await home.ok(['--quick-add-key', dave.primary, 'ed25519', 'sign', 'never']);
      const subkeys = [...(await home.ok(['--with-colons', '--list-keys', dave.primary])).stdout.matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]!).slice(1);
      expect(subkeys).toHaveLength(2);
      const keyring = join(dir, 'dave-two-subkeys.asc');
      await writeFile(keyring, (await home.ok(['--armor', '--export', dave.primary])).stdout);
      const copy = join(dir, 'dave-thrice', 'demo-1.0.0.ferry');
      await cp(bundle, copy);
      const m = join(dir, 'dave-thrice-manifest.json');
      await writeFile(m, (await ferry(['inspect', copy, '--manifest'])).stdout);
      for (const [i, sub] of [subkeys[0]!, subkeys[1]!, subkeys[0]!].entries()) {
        // a notation of its own makes each packet another (EdDSA signs the same data the same way)
        await home.ok(['--armor', '--detach-sign', '--sig-notation', `n@example.org=${i}`, '-u', `${sub}!`, '-o', `${m}.${i}.asc`, m]);
        expect((await ferry(['sign', copy, '--signature', `${m}.${i}.asc`])).code).toBe(0);
      }
      const file = join(dir, 'dave-twice.policy.yaml');
      await writeFile(file, `keys:\n  alice: alice.asc\n  bob: bob.asc\n  dave: ${dave.primary}\nrules:\n  - names: demo\n    signers: [bob, dave]\n    require: 2\n`);
      const r = await ferry(['verify', copy, '--policy', file, '--keyring', keyring, '--json']);
      expect(r.code, r.stderr).toBe(66);
      expect(r.stderr).toContain('signing policy not met: rule demo needs 2 of bob, dave; signed by dave (not counted for this name: alice); may still sign: bob');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      // all three signatures verified (alice's and dave's three): they count as one signer, not as none
      const all = await ferry(['verify', copy, '--keyring', keyring, '--keyring', alice.public, '--json']);
      expect(all.code, all.stderr).toBe(0);
      expect((JSON.parse(all.stdout) as { signers: Array<{ fingerprint: string }> }).signers.map((s) => s.fingerprint)).toEqual([alice.fingerprint!.toUpperCase(), dave.primary, dave.primary, dave.primary]);
    } finally {
      await home.close();
    }
  });

  it("does not take a certification made by the policy key's signing-only subkey as the key's (only the primary certifies)", async () => {
    const secret = await openpgp.readPrivateKey({ armoredKey: (await gnupg.ok(['--armor', '--export-secret-keys', dave.primary])).stdout });
    const next = await openpgp.generateKey({ userIDs: [{ name: 'dave next', email: 'dave@security.example' }], type: 'ecc', curve: 'ed25519Legacy', format: 'object' });
    // openpgp.js certifies with the signing key it finds: dave's primary only certifies, so that is the subkey
    const certified = await next.publicKey.signAllUsers([secret]);
    const cert = certified.users[0]!.otherCertifications[0]!;
    expect(cert.issuerKeyID.toHex().toUpperCase()).toBe(dave.subkey.slice(-16));
    const nextFile = join(dir, 'dave-next.asc');
    await writeFile(nextFile, certified.armor());
    const copy = join(dir, 'subkey-certified', 'demo-1.0.0.ferry');
    await cp(bundle, copy);
    const m = join(dir, 'dave-next-manifest.json');
    await writeFile(m, (await ferry(['inspect', copy, '--manifest'])).stdout);
    const sig = await openpgp.sign({ message: await openpgp.createMessage({ binary: new Uint8Array(await readFile(m)) }), signingKeys: next.privateKey, detached: true });
    await writeFile(`${m}.asc`, sig);
    expect((await ferry(['sign', copy, '--signature', `${m}.asc`])).code).toBe(0);
    const file = join(dir, 'dave-rotation.policy.yaml');
    await writeFile(file, `keys:\n  alice: alice.asc\n  dave: dave.asc\nrules:\n  - names: demo\n    signers: [alice, dave]\n    require: 2\n`);
    const r = await ferry(['verify', copy, '--policy', file, '--keyring', nextFile]);
    expect(r.code, r.stdout).toBe(66);
    expect(r.stderr).toContain('signed by alice (not counted for this name');
  });
});
