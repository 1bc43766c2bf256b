import type * as openpgp from 'openpgp';
import { pgp } from './openpgp.js';

/**
 * Why the (sub)key `keyID` of `key` cannot make a signature that counts now, or undefined when it can.
 *
 * openpgp.js judges a signature's key at the signature's own creation time, so a back-dated signature
 * passes with a subkey that has expired since, or a key revoked as "superseded" or "retired" after that
 * date. ferry judges every key now: a revocation for any reason counts (a revocation may well be dated
 * after the signature: the signature time is the signer's claim), and so does the expiry of the primary
 * key and of the subkey. Then openpgp.js's own check of the key at this moment (self- and binding
 * signatures, the subkey's back signature, the "sign data" key flag) has the last word.
 */
export async function whyKeyCannotSignNow(key: openpgp.PublicKey, keyID: openpgp.KeyID, keyring: openpgp.PublicKey[], now = new Date()): Promise<string | undefined> {
  const invalid = await whyKeyIsInvalidNow(key, keyring, now);
  if (invalid) return invalid;
  const primary = key.keyPacket;
  const subkey = key.subkeys.find((s) => s.getKeyID().equals(keyID));
  if (subkey) {
    const bind = { key: primary, bind: subkey.keyPacket };
    const subRevoked = await findRevocation(subkey.revocationSignatures, primary, pgp.enums.signature.subkeyRevocation, bind);
    if (subRevoked) return `signing subkey is revoked (${describeRevocation(subRevoked)})`;
    const subExpires = await subkey.getExpirationTime(now);
    if (subExpires === null) return 'signing subkey has no valid binding signature now';
    if (subExpires instanceof Date && subExpires.getTime() <= now.getTime()) return `signing subkey is expired (since ${subExpires.toISOString()})`;
    const binding = await subkey.verify(now).catch(() => undefined);
    if (binding && !canSign(binding)) return 'subkey is not marked for signing (its key flags)';
  } else if (!key.getKeyID().equals(keyID)) {
    return 'no such key or subkey';
  } else {
    const self = await key.getPrimaryUser(now).catch(() => undefined);
    if (self && !canSign(self.selfCertification)) return 'key is not marked for signing (its key flags)';
  }
  try {
    await key.getSigningKey(keyID, now);
  } catch (err) {
    return `not a valid signing key now (${(err as Error).message.replace(/^Error: /, '')})`;
  }
  return undefined;
}

/**
 * Why the primary key itself is not valid now (revoked for any reason, by itself or by a designated revoker
 * of `keyring`; expired; no valid self-signature), or undefined: what a key must pass before anything it
 * signed or certified counts.
 */
export async function whyKeyIsInvalidNow(key: openpgp.PublicKey, keyring: openpgp.PublicKey[], now = new Date()): Promise<string | undefined> {
  const primary = key.keyPacket;
  const revoked = await findRevocation(key.revocationSignatures, primary, pgp.enums.signature.keyRevocation, { key: primary });
  if (revoked) return `key is revoked (${describeRevocation(revoked)})`;
  const byRevoker = await findDesignatedRevocation(key, keyring);
  if (byRevoker) return `key is revoked by its designated revoker ${byRevoker.revoker} (${describeRevocation(byRevoker.revocation)})`;
  const expires = await key.getExpirationTime();
  if (expires === null) return 'key has no valid self-signature';
  if (expires instanceof Date && expires.getTime() <= now.getTime()) return `key is expired (since ${expires.toISOString()})`;
  return undefined;
}

/** A valid revocation by the key itself, whatever its reason and date (a designated revoker's: findDesignatedRevocation). */
async function findRevocation(
  revocations: openpgp.SignaturePacket[],
  primary: openpgp.PublicKey['keyPacket'],
  type: openpgp.enums.signature,
  data: object,
): Promise<openpgp.SignaturePacket | undefined> {
  for (const r of revocations) {
    if (!r.issuerKeyID.equals(primary.getKeyID())) continue;
    try {
      // no date: a revocation counts whenever it was made
      await r.verify(primary, type, data, null as unknown as Date);
      return r;
    } catch {
      // not a valid revocation: it revokes nothing
    }
  }
  return undefined;
}

/**
 * A key revocation made by a designated revoker (RFC 9580 5.2.3.23: a key that the key's own self-signature
 * allows to revoke it, as `gpg --desig-revoke` uses), when that revoker's key is in the keyring: gpg takes
 * such a key as revoked, whatever the reason and date.
 */
async function findDesignatedRevocation(key: openpgp.PublicKey, keyring: openpgp.PublicKey[]): Promise<{ revoker: string; revocation: openpgp.SignaturePacket } | undefined> {
  const primary = key.keyPacket;
  const foreign = key.revocationSignatures.filter((r) => !r.issuerKeyID.equals(primary.getKeyID()));
  if (foreign.length === 0) return undefined;
  // the revokers a valid self-signature of the key names (a user ID's or a direct-key signature)
  const named = new Set<string>();
  const selfSignatures = [
    ...key.users.flatMap((u) => u.selfCertifications.map((sig) => ({ sig, type: pgp.enums.signature.certGeneric, data: { userID: u.userID, userAttribute: u.userAttribute, key: primary } as object }))),
    ...((key as unknown as { directSignatures: openpgp.SignaturePacket[] }).directSignatures ?? []).map((sig) => ({ sig, type: pgp.enums.signature.key, data: { key: primary } as object })),
  ];
  for (const { sig, type, data } of selfSignatures) {
    if (!sig.revocationKeyFingerprint || !sig.issuerKeyID.equals(primary.getKeyID())) continue;
    // openpgp.js refuses every signature that names a revoker ("does not support"), after checking it:
    // a copy without that field read from the same bytes (the hashed data is kept as read) is checked instead
    const copy = new pgp.SignaturePacket();
    copy.read(sig.write());
    copy.revocationKeyClass = null;
    const ok = await copy.verify(primary, type, data, null as unknown as Date).then(() => true, () => false);
    if (ok) named.add(Buffer.from(sig.revocationKeyFingerprint).toString('hex').toUpperCase());
  }
  for (const r of foreign) {
    const revoker = keyring.find((k) => named.has(k.getFingerprint().toUpperCase()) && k.getKeyID().equals(r.issuerKeyID));
    if (!revoker) continue;
    const ok = await r.verify(revoker.keyPacket, pgp.enums.signature.keyRevocation, { key: primary }, null as unknown as Date).then(() => true, () => false);
    if (ok) return { revoker: revoker.getFingerprint().toUpperCase(), revocation: r };
  }
  return undefined;
}

const REASONS: Record<number, string> = {
  0: 'no reason given',
  1: 'superseded',
  2: 'compromised',
  3: 'retired',
};

function describeRevocation(r: openpgp.SignaturePacket): string {
  const reason = REASONS[r.reasonForRevocationFlag ?? 0] ?? `reason ${r.reasonForRevocationFlag}`;
  const text = r.reasonForRevocationString ? `: ${JSON.stringify(r.reasonForRevocationString)}` : '';
  return `${reason}${text}, on ${r.created?.toISOString() ?? 'an unknown date'}`;
}

function canSign(sig: openpgp.SignaturePacket): boolean {
  return !sig.keyFlags || (sig.keyFlags[0]! & pgp.enums.keyFlags.signData) !== 0;
}
