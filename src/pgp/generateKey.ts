import type * as openpgp from 'openpgp';
import { pgp } from './openpgp.js';

export interface GeneratedKey {
  secretArmored: string;
  publicArmored: string;
  revocationCertificate: string;
  fingerprint: string;
}

/**
 * A signing key that every peer verifies: v4 EdDSA over Curve25519 ("curve25519Legacy").
 * The RFC 9580 Ed25519 algorithm (openpgp.js 'curve25519') is rejected by the gpgv that apt 2.6
 * (Debian 12) uses, so it must not be the default.
 */
export async function generateKey(opts: {
  name: string;
  email?: string;
  passphrase?: string;
  /** seconds until the key expires; 0 = never */
  expiresIn?: number;
  /** creation time (tests make already-expired keys with this) */
  date?: Date;
}): Promise<GeneratedKey> {
  const { privateKey, publicKey, revocationCertificate } = await pgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: opts.name, ...(opts.email ? { email: opts.email } : {}) }],
    ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
    keyExpirationTime: opts.expiresIn ?? 0,
    ...(opts.date ? { date: opts.date } : {}),
    format: 'armored',
  });
  const key = await pgp.readKey({ armoredKey: publicKey });
  return {
    secretArmored: privateKey,
    publicArmored: publicKey,
    revocationCertificate,
    fingerprint: key.getFingerprint().toUpperCase(),
  };
}
