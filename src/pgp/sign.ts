import * as openpgp from 'openpgp';
import { readSignatures } from './verify.js';

/**
 * Signatures are deterministic for the same key material and data: EdDSA is deterministic, openpgp.js's
 * random salt notation is turned off, and the signature time is fixed (see signatureDate). So the same
 * lock and key give the same bundle bytes, signature included.
 */
const DETERMINISTIC = { nonDeterministicSignaturesViaNotation: false } as const;

/**
 * The bundle epoch, unless the key is younger than it (a signature cannot predate its key):
 * then the newest signing key's creation time.
 */
export function signatureDate(epoch: Date, keys: openpgp.PrivateKey[]): Date {
  let t = epoch.getTime();
  for (const k of keys) t = Math.max(t, k.getCreationTime().getTime());
  return new Date(t);
}

/** Armored detached signature over exact bytes (binary mode, like `gpg --detach-sign --armor`). */
export async function signDetached(data: Uint8Array, keys: openpgp.PrivateKey[], date: Date): Promise<string> {
  const message = await openpgp.createMessage({ binary: data });
  return (await openpgp.sign({ message, signingKeys: keys, detached: true, format: 'armored', date, config: DETERMINISTIC })) as string;
}

/**
 * Clearsigned text (`gpg --clearsign`), as apt's InRelease wants.
 * The text must use LF line ends; dash-escaping is done by openpgp.js.
 */
export async function clearsign(text: string, keys: openpgp.PrivateKey[], date: Date): Promise<string> {
  const message = await openpgp.createCleartextMessage({ text });
  return (await openpgp.sign({ message, signingKeys: keys, format: 'armored', date, config: DETERMINISTIC })) as string;
}

/** Merge several armored detached signatures into one armored block with all signature packets. */
export async function mergeSignatures(armored: string[]): Promise<string> {
  return (await readSignatures(armored.join('\n'))).armor();
}
