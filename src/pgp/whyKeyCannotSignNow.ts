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
export async function whyKeyCannotSignNow(key: openpgp.PublicKey, keyID: openpgp.KeyID, now = new Date()): Promise<string | undefined> {
  const invalid = await whyKeyIsInvalidNow(key, now);
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
 * Why the primary key itself is not valid now (revoked for any reason, expired, no valid self-signature),
 * or undefined: what a key must pass before anything it signed or certified counts.
 */
export async function whyKeyIsInvalidNow(key: openpgp.PublicKey, now = new Date()): Promise<string | undefined> {
  const primary = key.keyPacket;
  const revoked = await findRevocation(key.revocationSignatures, primary, pgp.enums.signature.keyRevocation, { key: primary });
  if (revoked) return `key is revoked (${describeRevocation(revoked)})`;
  const expires = await key.getExpirationTime();
  if (expires === null) return 'key has no valid self-signature';
  if (expires instanceof Date && expires.getTime() <= now.getTime()) return `key is expired (since ${expires.toISOString()})`;
  return undefined;
}

/** A valid revocation by the key itself, whatever its reason and date (third-party revocations are not supported). */
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
