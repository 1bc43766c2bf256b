import type * as openpgp from 'openpgp';
import { pgp } from './openpgp.js';
import { SignatureError, UsageError } from '../errors.js';
import { MAX_SIGNATURES, readSignaturePackets } from './readSignaturePackets.js';

/**
 * Signatures are deterministic for the same key material and data: EdDSA is deterministic, openpgp.js's
 * random salt notation is turned off, and the signature time is fixed (see signatureDate). So the same
 * lock and key give the same bundle bytes, signature included.
 */
const DETERMINISTIC = { nonDeterministicSignaturesViaNotation: false } as const;

/**
 * Why signatures by these keys differ from one build to the next, or undefined when they do not: ECDSA
 * and DSA draw a random number for each signature, and a v6 signature (RFC 9580) carries a random salt.
 */
export function whySignaturesVary(keys: openpgp.PrivateKey[]): string | undefined {
  for (const k of keys) {
    const fpr = k.getFingerprint().toUpperCase();
    if (k.keyPacket.version === 6) return `key ${fpr} is a v6 key, whose signatures carry a random salt: two builds of the same lock give the same manifest and digest, not the same bytes; a v4 Ed25519 key (ferry key generate) signs the same every time`;
    const random = [k, ...k.subkeys].map((p) => p.getAlgorithmInfo().algorithm).find((a) => a === 'ecdsa' || a === 'dsa');
    if (random) return `key ${fpr} signs with ${random.toUpperCase()}, which draws a random number for each signature: two builds of the same lock give the same manifest and digest, not the same bytes; an Ed25519 key (ferry key generate) signs the same every time`;
  }
  return undefined;
}

/**
 * The bundle epoch, unless a key is younger than it (a signature cannot predate its key), or its newest
 * self-signature is: then the newest of those. gpg replaces a key's self-signature when its expiry is
 * changed (`gpg --quick-set-expire`), so a key extended after the epoch had no valid self-signature at the
 * epoch, nor at its creation, and could not sign (openpgp: "Signature creation time is in the future"),
 * though it is valid now; nor would a verifier accept a signature dated then. Self-signatures dated after
 * now are left out (they are not valid yet). The date still depends on the key and the epoch alone, so the
 * same lock and key give the same bytes.
 */
export function signatureDate(epoch: Date, keys: openpgp.PrivateKey[]): Date {
  const now = Date.now();
  let t = epoch.getTime();
  for (const k of keys) {
    t = Math.max(t, k.getCreationTime().getTime());
    const selfSignatures = [...k.users.flatMap((u) => u.selfCertifications), ...k.subkeys.flatMap((sub) => sub.bindingSignatures)];
    for (const sig of selfSignatures) {
      const at = sig.created?.getTime();
      if (at !== undefined && at <= now) t = Math.max(t, at);
    }
  }
  return new Date(t);
}

/** Armored detached signature over exact bytes (binary mode, like `gpg --detach-sign --armor`). */
export async function signDetached(data: Uint8Array, keys: openpgp.PrivateKey[], date: Date): Promise<string> {
  const message = await pgp.createMessage({ binary: data });
  return (await signing(keys, () => pgp.sign({ message, signingKeys: keys, detached: true, format: 'armored', date, config: DETERMINISTIC }))) as string;
}

/** A key that cannot sign (expired, revoked, no signing key) is the caller's to replace: one line, exit 64. */
async function signing<T>(keys: openpgp.PrivateKey[], sign: () => Promise<T>): Promise<T> {
  try {
    return await sign();
  } catch (err) {
    const which = keys.map((k) => k.getFingerprint().toUpperCase()).join(', ');
    throw new UsageError(`cannot sign with key ${which}: ${(err as Error).message.replace(/^Error signing message: /, '')}; sign with a key that is valid now`);
  }
}

/**
 * Clearsigned text (`gpg --clearsign`), as apt's InRelease wants.
 * The text must use LF line ends; dash-escaping is done by openpgp.js.
 */
export async function clearsign(text: string, keys: openpgp.PrivateKey[], date: Date): Promise<string> {
  const message = await pgp.createCleartextMessage({ text });
  return (await signing(keys, () => pgp.sign({ message, signingKeys: keys, format: 'armored', date, config: DETERMINISTIC }))) as string;
}

/**
 * Merge several armored detached signatures into one armored block with all their packets, each kept
 * byte for byte (one that ferry cannot read stays for the tools that can; verify reports it).
 */
export async function mergeSignatures(signatures: Array<{ armored: string; label: string; hint?: string }>): Promise<string> {
  // a text without one armored signature block (a bundle's placeholder, a key file given as a signature) is
  // the input's fault, told in one line, not an internal error
  const read = async ({ armored, label, hint }: { armored: string; label: string; hint?: string }) => {
    try {
      return await readSignaturePackets(armored);
    } catch (err) {
      throw new SignatureError(`${label} is not a readable OpenPGP signature (${(err as Error).message})${hint ? `: ${hint}` : ''}`);
    }
  };
  const parts = (await Promise.all(signatures.map(read))).flat();
  // what verify and import would refuse is not written
  if (parts.length > MAX_SIGNATURES) throw new UsageError(`the signature would hold ${parts.length} signature packets, more than the ${MAX_SIGNATURES} verify accepts: replace old ones (--replace) instead of adding`);
  const v6only = parts.every((p) => p.packet?.version === 6);
  // RFC 9580: armor holding only v6 signatures carries no CRC24 line; for v4 it is customary
  return pgp.armor(pgp.enums.armor.signature, Buffer.concat(parts.map((p) => p.bytes)), undefined, undefined, undefined, !v6only);
}

/** The public halves of signing keys, armored one after another (keys/bundle.asc). */
export function publicKeysArmored(keys: openpgp.PrivateKey[]): string {
  return keys.map((k) => k.toPublic().armor()).join('');
}
