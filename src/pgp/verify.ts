import type * as openpgp from 'openpgp';
import { pgp } from './openpgp.js';
import { SignatureError } from '../errors.js';
import { mergeKeyCopies } from './mergeKeyCopies.js';
import { MAX_SIGNATURES, readSignaturePackets, type SignaturePart } from './readSignaturePackets.js';
import { whyKeyCannotSignNow } from './whyKeyCannotSignNow.js';

export interface VerifiedSignature {
  fingerprint: string;
  userIDs: string[];
  created: string;
}

/** A signature packet that did not count, and why (verify and inspect report them). */
export interface IgnoredSignature {
  /** position of the packet in the signature file, from 1 */
  index: number;
  /** the issuer's key ID, when the packet could be read */
  keyID?: string;
  reason: string;
}

export interface Verification {
  signers: VerifiedSignature[];
  ignored: IgnoredSignature[];
}

/**
 * Verify an armored detached signature over exact bytes against trusted keys. Only binary signatures
 * (type 0x00) count: a text-mode one (0x01) is computed over the data with its line ends normalized, so
 * it would stay valid over bytes that changed (CRLF for LF), and the bytes are what names a bundle.
 */
export async function verifyDetached(data: Uint8Array, armoredSignature: string, keys: openpgp.PublicKey[], label: string): Promise<Verification> {
  const parts = await readParts(armoredSignature, label);
  if (keys.length === 0) throw new SignatureError(`${label}: no trusted keys given (pass --keyring FILE)`);
  return checkSignatures(parts, await mergeKeyCopies(keys), label, pgp.enums.signature.binary, async (packet, key) => {
    const message = await pgp.createMessage({ binary: data });
    return pgp.verify({ message, signature: single(packet), verificationKeys: [key], expectSigned: false });
  });
}

/**
 * Verify a clearsigned text (apt's InRelease); returns the signed text and the signers. Cleartext
 * signatures are text-mode (type 0x01) by definition; the same key rules as for bundles apply.
 */
export async function verifyCleartext(armored: string, keys: openpgp.PublicKey[], label: string): Promise<Verification & { text: string }> {
  let message: openpgp.CleartextMessage;
  let parts: SignaturePart[];
  try {
    message = await pgp.readCleartextMessage({ cleartextMessage: armored });
    // the armor line itself, at the start of a line: inside the signed text it is dash-escaped ("- -----BEGIN")
    parts = await readSignaturePackets(armored.slice(Math.max(0, armored.search(/^-----BEGIN PGP SIGNATURE-----\r?$/m))));
  } catch (err) {
    throw new SignatureError(`${label}: not a clearsigned OpenPGP message (${(err as Error).message})`);
  }
  if (keys.length === 0) throw new SignatureError(`${label}: no trusted keys given (pass --keyring FILE)`);
  const text = message.getText();
  const result = await checkSignatures(parts, await mergeKeyCopies(keys), label, pgp.enums.signature.text, (packet, key) =>
    // the constructor is missing from openpgp's type declarations: CleartextMessage(text, signature)
    pgp.verify({ message: new (pgp.CleartextMessage as unknown as CleartextConstructor)(text, single(packet)), verificationKeys: [key], expectSigned: false }),
  );
  return { text, ...result };
}

/** The packets of a signature file; a file without one readable armored block is refused whole. */
export async function readParts(armored: string, label: string): Promise<SignaturePart[]> {
  try {
    return await readSignaturePackets(armored);
  } catch (err) {
    throw new SignatureError(`${label}: signature is not a readable OpenPGP signature (${(err as Error).message})`);
  }
}

/** The parts that are not signatures of `type`, as ignored (inspect shows them without a keyring). */
export function unusableParts(parts: SignaturePart[], type: openpgp.enums.signature = pgp.enums.signature.binary): IgnoredSignature[] {
  const out: IgnoredSignature[] = [];
  for (const part of parts) {
    const reason = part.problem ?? wrongType(part.packet!, type);
    if (reason) out.push({ index: part.index, ...(part.packet ? { keyID: keyIDOf(part.packet) } : {}), reason });
  }
  return out;
}

type CleartextConstructor = new (text: string, signature: openpgp.Signature) => openpgp.CleartextMessage;
type VerifyOne = (packet: openpgp.SignaturePacket, key: openpgp.PublicKey) => Promise<{ signatures: Array<{ verified: Promise<boolean> }> }>;

/**
 * Each packet on its own: the right type, made by a trusted key that can sign now, and valid over the
 * data. Succeeds when at least one counts; the others are reported as ignored, so one broken
 * co-signature never blocks a bundle that also carries a good one. Fails naming every signature's
 * key and why it did not count.
 */
async function checkSignatures(parts: SignaturePart[], keys: openpgp.PublicKey[], label: string, type: openpgp.enums.signature, verifyOne: VerifyOne): Promise<Verification> {
  if (parts.length === 0) throw new SignatureError(`${label}: carries no signature`);
  // refused before any is checked: each check hashes all the signed data again (a manifest of up to 64 MiB)
  if (parts.length > MAX_SIGNATURES) throw new SignatureError(`${label}: carries ${parts.length} signature packets, more than the ${MAX_SIGNATURES} ferry checks: the signature file was padded or damaged`);
  const signers: VerifiedSignature[] = [];
  const ignored = unusableParts(parts, type);
  for (const part of parts) {
    const packet = part.packet;
    if (!packet || ignored.some((i) => i.index === part.index)) continue;
    const keyID = keyIDOf(packet);
    // every key that holds the key ID, not only the first: a keyring file may carry another key's packet as
    // a subkey of its own (without a binding that lets it sign), and must not hide that key's signatures
    const holders = keys.filter((k) => k.getKeys(packet.issuerKeyID).length > 0);
    let counted: openpgp.PublicKey | undefined;
    let reason: string | undefined;
    for (const key of holders) {
      const why = await whyNotCounted(packet, key, keys, verifyOne);
      if (!why) {
        counted = key;
        break;
      }
      reason ??= `${why} (key ${key.getFingerprint().toUpperCase()}${userIDsOf(key)})`;
    }
    if (!counted) {
      ignored.push({ index: part.index, keyID, reason: reason ?? 'not in the keyring' });
      continue;
    }
    signers.push({ fingerprint: counted.getFingerprint().toUpperCase(), userIDs: await boundUserIDs(counted), created: (packet.created ?? new Date(0)).toISOString() });
  }
  ignored.sort((a, b) => a.index - b.index);
  if (signers.length === 0) throw new SignatureError(`${label}: no valid signature by a trusted key (${ignored.map(describeIgnored).join('; ')})`);
  return { signers, ignored };
}

async function whyNotCounted(packet: openpgp.SignaturePacket, key: openpgp.PublicKey, keyring: openpgp.PublicKey[], verifyOne: VerifyOne): Promise<string | undefined> {
  const invalid = await whyKeyCannotSignNow(key, packet.issuerKeyID, keyring);
  if (invalid) return invalid;
  try {
    const result = await verifyOne(packet, key);
    if (result.signatures.length !== 1) return 'not a signature over the data';
    await result.signatures[0]!.verified;
    return undefined;
  } catch (err) {
    return describe((err as Error).message, packet.created);
  }
}

/** The stderr note for a signature that did not count while another did. */
export function noteIgnored(i: IgnoredSignature): string {
  return `signature ${i.index}${i.keyID ? ` by key ${i.keyID}` : ''} ignored: ${i.reason}`;
}

/** "key ID: reason", or "signature N: reason" for a packet without a readable issuer */
function describeIgnored(i: IgnoredSignature): string {
  return i.keyID ? `key ${i.keyID}: ${i.reason}` : `signature ${i.index}: ${i.reason}`;
}

function wrongType(packet: openpgp.SignaturePacket, want: openpgp.enums.signature): string | undefined {
  if (packet.signatureType === want) return undefined;
  const hex = `0x${(packet.signatureType ?? 0).toString(16).padStart(2, '0')}`;
  if (packet.signatureType === pgp.enums.signature.text) {
    return `text-mode signature (type ${hex}): only binary signatures (type 0x00) over the exact bytes count; sign without --textmode`;
  }
  if (want === pgp.enums.signature.text) return `not a text signature (type ${hex}), as a clearsigned file must carry`;
  return `not a signature over data (type ${hex})`;
}

function single(packet: openpgp.SignaturePacket): openpgp.Signature {
  const list = new pgp.PacketList<openpgp.SignaturePacket>();
  list.push(packet);
  return new pgp.Signature(list);
}

function keyIDOf(packet: openpgp.SignaturePacket): string {
  return packet.issuerKeyID.toHex().toUpperCase();
}

/**
 * The user IDs the key's own valid, unrevoked self-certification binds to it now: anyone can append a user ID
 * ("Security team") to a copy of a key, and copies of one key are merged, so an unbound one names nobody.
 */
async function boundUserIDs(key: openpgp.PublicKey): Promise<string[]> {
  const out: string[] = [];
  for (const u of key.users) {
    if (u.userID && (await u.verify().then(() => true, () => false))) out.push(u.userID.userID);
  }
  return out;
}

function userIDsOf(key: openpgp.PublicKey): string {
  const ids = key.getUserIDs();
  return ids.length > 0 ? ` ${JSON.stringify(ids[0])}` : '';
}

/** Why openpgp.js refused a signature whose key can sign now (whyKeyCannotSignNow said so first). */
function describe(msg: string, created: Date | null): string {
  // the signature's own expiry time (gpg --default-sig-expire), not its key's (whyKeyCannotSignNow says that)
  if (/signature is expired/i.test(msg)) return 'the signature itself is expired (its signer gave it an expiry time, now past): ask for a new signature (ferry sign)';
  // openpgp.js also checks the key at the date the signature claims: valid now, it was not then (expired, or its
  // only self-signature is newer: gpg replaces it when the key's expiry changes)
  if (/expired|Could not find valid (self-signature|signing key packet|binding signature)/i.test(msg)) {
    return `the key was not valid on the date the signature claims (${created?.toISOString() ?? 'none'}): expired then, or its self-signature is newer (gpg replaces it when the expiry changes); it is valid now: ask for a new signature (ferry sign), or pass an older copy of the key too`;
  }
  if (/revoked/i.test(msg)) return 'key is revoked';
  if (/Signed digest did not match|signature did not match|Invalid signature/i.test(msg)) return 'signature does not match the signed data (it was changed after signing)';
  return msg.replace(/^Error: /, '');
}
