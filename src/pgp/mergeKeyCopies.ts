import type * as openpgp from 'openpgp';

/**
 * Merge the copies of each key (same primary fingerprint) into one, in the order the keys were given:
 * a keyring may hold an old copy of a key in one file and its revocation or new expiry in another
 * (or twice in one file). Verification looks a signer up by key ID and would stop at the first copy;
 * merged, a revocation anywhere counts.
 */
export async function mergeKeyCopies(keys: openpgp.PublicKey[]): Promise<openpgp.PublicKey[]> {
  const merged = new Map<string, openpgp.PublicKey>();
  for (const key of keys) {
    const fpr = key.getFingerprint();
    const seen = merged.get(fpr);
    merged.set(fpr, seen ? ((await seen.update(key)) as openpgp.PublicKey) : key);
  }
  return [...merged.values()];
}
