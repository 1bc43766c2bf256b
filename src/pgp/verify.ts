import * as openpgp from 'openpgp';
import { SignatureError } from '../errors.js';

export interface VerifiedSignature {
  fingerprint: string;
  userIDs: string[];
  created: string;
}

/**
 * Verify an armored detached signature over exact bytes against trusted keys.
 * Succeeds when at least one signature is valid and made by a trusted key that is neither expired
 * nor revoked now; signatures by keys outside the keyring are ignored (a bundle may carry several).
 * Fails with a message that names every signature's key id and why it did not count.
 */
export async function verifyDetached(
  data: Uint8Array,
  armoredSignature: string,
  keys: openpgp.PublicKey[],
  label: string,
): Promise<VerifiedSignature[]> {
  let signature: openpgp.Signature;
  try {
    signature = await readSignatures(armoredSignature);
  } catch (err) {
    throw new SignatureError(`${label}: signature is not a readable OpenPGP signature (${(err as Error).message})`);
  }
  const message = await openpgp.createMessage({ binary: data });
  if (keys.length === 0) throw new SignatureError(`${label}: no trusted keys given (pass --keyring FILE)`);
  const result = await openpgp.verify({ message, signature, verificationKeys: keys, expectSigned: false });
  return checkSignatures(result.signatures, keys, label);
}

/**
 * Read every signature packet from one or more armored blocks (a bundle may carry several signatures,
 * appended as separate blocks by `ferry sign` or `cat a.asc b.asc`).
 */
export async function readSignatures(armored: string): Promise<openpgp.Signature> {
  const blocks = armored.match(/-----BEGIN PGP SIGNATURE-----[\s\S]*?-----END PGP SIGNATURE-----/g);
  if (!blocks || blocks.length === 0) throw new Error('no armored signature block');
  const packets = new openpgp.PacketList<openpgp.SignaturePacket>();
  for (const block of blocks) {
    const sig = await openpgp.readSignature({ armoredSignature: block });
    for (const p of sig.packets) packets.push(p);
  }
  return new openpgp.Signature(packets);
}

/** Verify a clearsigned text (InRelease); returns the signed text and the signers. */
export async function verifyCleartext(
  armored: string,
  keys: openpgp.PublicKey[],
  label: string,
): Promise<{ text: string; signers: VerifiedSignature[] }> {
  let message: openpgp.CleartextMessage;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: armored });
  } catch (err) {
    throw new SignatureError(`${label}: not a clearsigned OpenPGP message (${(err as Error).message})`);
  }
  if (keys.length === 0) throw new SignatureError(`${label}: no trusted keys given (pass --keyring FILE)`);
  const result = await openpgp.verify({ message, verificationKeys: keys, expectSigned: false });
  const signers = await checkSignatures(result.signatures, keys, label);
  return { text: message.getText(), signers };
}

async function checkSignatures(
  signatures: Awaited<ReturnType<typeof openpgp.verify>>["signatures"],
  keys: openpgp.PublicKey[],
  label: string,
): Promise<VerifiedSignature[]> {
  const result = { signatures };
  const ok: VerifiedSignature[] = [];
  const problems: string[] = [];
  if (result.signatures.length === 0) throw new SignatureError(`${label}: carries no signature`);
  for (const s of result.signatures) {
    const keyID = s.keyID.toHex().toUpperCase();
    try {
      await s.verified;
      const sigPacket = (await s.signature).packets[0];
      const key = keys.find((k) => k.getKeys(s.keyID).length > 0)!;
      // openpgp.js accepts a signature made before its key expired; a bundle must be verifiable by a
      // key that is valid now, so an expired key does not count (rotate keys, then re-sign)
      const expires = await key.getExpirationTime();
      if (expires instanceof Date && expires.getTime() < Date.now()) throw new Error(`key expired on ${expires.toISOString()}`);
      ok.push({
        fingerprint: key.getFingerprint().toUpperCase(),
        userIDs: key.getUserIDs(),
        created: (sigPacket?.created ?? new Date(0)).toISOString(),
      });
    } catch (err) {
      problems.push(`key ${keyID}: ${describe((err as Error).message)}`);
    }
  }
  if (ok.length === 0) throw new SignatureError(`${label}: no valid signature by a trusted key (${problems.join('; ')})`);
  return ok;
}

function describe(msg: string): string {
  if (/Could not find signing key/i.test(msg)) return 'not in the keyring';
  if (/expired/i.test(msg)) return 'key is expired';
  if (/revoked/i.test(msg)) return 'key is revoked';
  if (/Signed digest did not match|signature did not match|Invalid signature/i.test(msg)) return 'signature does not match the signed data (it was changed after signing)';
  return msg.replace(/^Error: /, '');
}
