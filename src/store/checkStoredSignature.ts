import { constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SIGNATURE_MAX_BYTES, SIGNATURE_PATH } from '../bundle/manifest.js';
import { pgp } from '../pgp/openpgp.js';
import { MAX_SIGNATURES, readSignaturePackets } from '../pgp/readSignaturePackets.js';
import { checkStorePath } from './checkStorePath.js';

/** what openpgp.js's signature packet does with the signed data, left out of its type declarations */
interface HashingPacket {
  hash(type: number, data: unknown, toHash?: undefined, detached?: boolean): Promise<Uint8Array> | Uint8Array;
}

/**
 * Why the stored manifest.json.asc of the bundle tree `dir` cannot be the signature imported with the
 * manifest `bytes` (missing, not a regular file, too large, no armored signature, no binary signature
 * packet whose hashed data is these bytes), or undefined. No key is needed: a signature packet carries the
 * first 16 bits of the hash it signs, so one over other bytes (a signature file damaged on disk, or one
 * copied from another release) is told from the right one, except by a chance of 1 in 65,536 per packet.
 * Whether the signer is trusted is verify's of a bundle, with a keyring: this says the file is still the one
 * that was verified when the release was imported (serve hands it out beside the manifest).
 */
export async function whyStoredSignatureIsDamaged(dir: string, bytes: Buffer): Promise<string | undefined> {
  const file = join(dir, SIGNATURE_PATH);
  let armored: string;
  try {
    const st = await checkStorePath(file, 'file');
    if (!st) return `cannot read ${file} (missing): the release's signature is gone`;
    if (st.size > SIGNATURE_MAX_BYTES) return `${file} is ${st.size} bytes, over the ${SIGNATURE_MAX_BYTES} of any bundle's signature`;
    armored = (await readFile(file, { flag: constants.O_RDONLY | constants.O_NOFOLLOW })).toString('utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === undefined ? e.message : `cannot read ${file} (${e.code})`;
  }
  let parts;
  try {
    parts = await readSignaturePackets(armored);
  } catch (err) {
    return `${file} is not an OpenPGP signature (${(err as Error).message})`;
  }
  if (parts.length > MAX_SIGNATURES) return `${file} carries ${parts.length} signature packets, more than the ${MAX_SIGNATURES} any bundle may`;
  const literal = new pgp.LiteralDataPacket() as unknown as { setBytes(b: Uint8Array, f: string): void };
  literal.setBytes(bytes, 'binary');
  for (const part of parts) {
    const packet = part.packet;
    if (!packet || packet.signatureType !== pgp.enums.signature.binary || !packet.signedHashValue) continue;
    try {
      const hash = await (packet as unknown as HashingPacket).hash(packet.signatureType, literal, undefined, true);
      if (hash[0] === packet.signedHashValue[0] && hash[1] === packet.signedHashValue[1]) return undefined;
    } catch {
      // a hash algorithm openpgp.js does not have, a v6 salt of the wrong length: not this manifest's signature
    }
  }
  return `${file} holds no signature over the stored manifest (${parts.length} packet${parts.length === 1 ? '' : 's'}, none a binary signature whose hash is the manifest's): it was changed or replaced after import`;
}
