import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it, type TestContext } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';

/**
 * A signature names its key by key ID. Another team's keyring file can hold a key of its own that carries
 * the signer's public key packet as a subkey (a public key is public; a subkey that cannot sign needs no
 * consent of its owner): when that key comes first, the signature must still count for the key that made it.
 */
describe('a signature by a key whose key ID another key of the keyring also holds', () => {
  /** a bundle signed by `signer` (its signing subkey when it has one) and a key file holding that key's packet as a subkey of another key */
  async function setup(ctx: TestContext, subkey: boolean) {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-shared-keyid-'));
    ctx.onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const { privateKey: signer } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'signer' }], ...(subkey ? { subkeys: [{ sign: true }] } : {}), format: 'object' });
    const signerFile = join(dir, 'signer.asc');
    await writeFile(signerFile, signer.toPublic().armor());
    const files = [{ path: 'files/s/a.txt', data: Buffer.from('artifact a\n') }];
    const bundle = join(dir, 'crafted-1.0.0.ferry');
    await writeFile(bundle, await craftBundle(manifestFor(files), signer, files));
    const signing = subkey ? signer.toPublic().subkeys[signer.subkeys.length - 1]!.keyPacket : signer.toPublic().keyPacket;
    const { publicKey: other } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'other team' }], format: 'object' });
    const packets = other.toPacketList();
    const copied = new openpgp.PublicSubkeyPacket();
    copied.read(signing.write());
    packets.push(copied);
    const otherFile = join(dir, 'other.asc');
    await writeFile(otherFile, new openpgp.PublicKey(packets).armor());
    return { dir, bundle, signerFile, otherFile, fingerprint: signer.getFingerprint().toUpperCase(), signingFingerprint: signing.getFingerprint().toUpperCase() };
  }

  it('counts for the key that can make it, whatever the order of the keyring files', async (ctx) => {
    const { bundle, signerFile, otherFile, fingerprint } = await setup(ctx, false);
    for (const keyrings of [[otherFile, signerFile], [signerFile, otherFile]]) {
      const r = await ferry(['verify', bundle, ...keyrings.flatMap((k) => ['--keyring', k]), '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).signers.map((s: { fingerprint: string }) => s.fingerprint)).toEqual([fingerprint]);
    }
  });

  it('a policy key given as a signing subkey\'s fingerprint names the key that holds it as a signing subkey', async (ctx) => {
    const { dir, bundle, signerFile, otherFile, signingFingerprint } = await setup(ctx, true);
    const policy = join(dir, 'policy.yaml');
    await writeFile(policy, `keys:\n  carol: ${signingFingerprint}\nrules:\n  - names: "*"\n    signers: [carol]\n    require: 1\n`);
    const r = await ferry(['verify', bundle, '--policy', policy, '--keyring', otherFile, '--keyring', signerFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('policy met: rule * needs 1 of carol; signed by carol');
  });
});
