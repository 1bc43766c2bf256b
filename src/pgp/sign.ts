import * as openpgp from 'openpgp';

/** Armored detached signature over exact bytes (binary mode, like `gpg --detach-sign --armor`). */
export async function signDetached(data: Uint8Array, keys: openpgp.PrivateKey[], date?: Date): Promise<string> {
  const message = await openpgp.createMessage({ binary: data });
  return (await openpgp.sign({
    message,
    signingKeys: keys,
    detached: true,
    format: 'armored',
    ...(date ? { date } : {}),
  })) as string;
}

/**
 * Clearsigned text (`gpg --clearsign`), as apt's InRelease wants.
 * The text must use LF line ends; dash-escaping is done by openpgp.js.
 */
export async function clearsign(text: string, keys: openpgp.PrivateKey[], date?: Date): Promise<string> {
  const message = await openpgp.createCleartextMessage({ text });
  return (await openpgp.sign({ message, signingKeys: keys, format: 'armored', ...(date ? { date } : {}) })) as string;
}

/** Merge several armored detached signatures into one armored block with all signature packets. */
export async function mergeSignatures(armored: string[]): Promise<string> {
  const packets = new openpgp.PacketList<openpgp.AnyPacket>();
  for (const a of armored) {
    const sig = await openpgp.readSignature({ armoredSignature: a });
    for (const p of sig.packets) packets.push(p);
  }
  return new openpgp.Signature(packets as unknown as openpgp.PacketList<openpgp.SignaturePacket>).armor();
}
