import type * as openpgp from 'openpgp';

/**
 * Merge the copies of each key (same primary fingerprint) into one, in the order the keys were given:
 * a keyring may hold an old copy of a key in one file and its revocation or new expiry in another
 * (or twice in one file). Verification looks a signer up by key ID and would stop at the first copy;
 * merged, a revocation anywhere counts.
 *
 * The key's revocations and each subkey's binding signatures and revocations are those of every copy, each
 * once, whatever they say: openpgp.js's Key.update keeps, of a subkey's binding signatures by one issuer, the
 * one with the later creation date without verifying it, so a copy carrying a binding re-dated 2100 (whoever has
 * the public key can make one; it does not verify) before the subkey's first binding hid the newer genuine
 * binding of another copy (its expiry, its "encrypt only"), and an expired signing subkey signed again; and it
 * drops a designated revoker's revocation when the first copy already carries a revocation. Whatever reads a
 * signature list verifies each signature it uses (the latest valid binding, a valid revocation), so a forged
 * signature in it counts for nothing, and no copy can hide another's.
 */
export async function mergeKeyCopies(keys: openpgp.PublicKey[]): Promise<openpgp.PublicKey[]> {
  const copies = new Map<string, openpgp.PublicKey[]>();
  for (const key of keys) copies.set(key.getFingerprint(), [...(copies.get(key.getFingerprint()) ?? []), key]);
  const out: openpgp.PublicKey[] = [];
  for (const [first, ...rest] of copies.values()) {
    let key = first!;
    for (const copy of rest) key = (await key.update(copy)) as openpgp.PublicKey;
    if (rest.length > 0) {
      const all = [first!, ...rest];
      key.revocationSignatures = everyOnce(all.map((k) => k.revocationSignatures));
      for (const subkey of key.subkeys) {
        const same = all.flatMap((k) => k.subkeys.filter((s) => s.getFingerprint() === subkey.getFingerprint()));
        subkey.bindingSignatures = everyOnce(same.map((s) => s.bindingSignatures));
        subkey.revocationSignatures = everyOnce(same.map((s) => s.revocationSignatures));
      }
    }
    out.push(key);
  }
  return out;
}

/** the signatures of all lists, each once (the same bytes) */
function everyOnce(lists: openpgp.SignaturePacket[][]): openpgp.SignaturePacket[] {
  const seen = new Map<string, openpgp.SignaturePacket>();
  for (const sig of lists.flat()) seen.set(Buffer.from(sig.write()).toString('hex'), sig);
  return [...seen.values()];
}
