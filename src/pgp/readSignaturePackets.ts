import type * as openpgp from 'openpgp';
import { pgp } from './openpgp.js';

/**
 * The most signature packets one signature file may carry. Every packet that names a trusted key is
 * verified on its own, and each verification hashes the whole signed data: a 1 MiB signature file holds
 * about 6,400 copies of one packet, which over a 64 MiB manifest kept verify busy for about two hours,
 * without any key. Far more than any signing policy needs.
 */
export const MAX_SIGNATURES = 32;

/** One packet of a signature file, numbered from 1 in file order, parsed when it could be. */
export interface SignaturePart {
  index: number;
  /** the packet exactly as carried (kept as is when signatures are merged) */
  bytes: Uint8Array;
  packet?: openpgp.SignaturePacket;
  /** why the part is not a usable signature packet */
  problem?: string;
}

const SIGNATURE_TAG = 2;
const ARMORED_BLOCK = /-----BEGIN PGP SIGNATURE-----[\s\S]*?-----END PGP SIGNATURE-----/g;
/** the parser must say so when it skips a packet, so that it can be named */
const STRICT = { ignoreUnsupportedPackets: false, ignoreMalformedPackets: false } as const;

/**
 * Split armored signature blocks (a bundle may carry several, appended by `ferry sign` or
 * `cat a.asc b.asc`) into single packets and parse each on its own: one unreadable, unsupported or
 * foreign packet then costs only itself, never the signatures beside it. Throws only when the text
 * holds no armored signature block at all.
 */
export async function readSignaturePackets(armored: string): Promise<SignaturePart[]> {
  const blocks = armored.match(ARMORED_BLOCK);
  if (!blocks || blocks.length === 0) throw new Error('no armored signature block');
  const parts: SignaturePart[] = [];
  const add = (part: Omit<SignaturePart, 'index'>) => parts.push({ index: parts.length + 1, ...part });
  for (const block of blocks) {
    let data: Uint8Array;
    try {
      const u = await pgp.unarmor(block);
      data = u.data as Uint8Array;
    } catch (err) {
      add({ bytes: new Uint8Array(), problem: `unreadable armor (${message(err)})` });
      continue;
    }
    if (data.length === 0) add({ bytes: data, problem: 'empty signature block' });
    for (const raw of splitPackets(data)) {
      if ('problem' in raw) {
        add({ bytes: raw.bytes, problem: raw.problem });
        continue;
      }
      if (raw.tag !== SIGNATURE_TAG) {
        add({ bytes: raw.bytes, problem: `not a signature packet (packet tag ${raw.tag})` });
        continue;
      }
      try {
        const sig = await pgp.readSignature({ binarySignature: raw.bytes, config: STRICT });
        const packet = sig.packets[0] as openpgp.SignaturePacket | undefined;
        if (!packet) add({ bytes: raw.bytes, problem: 'unsupported signature packet' });
        else add({ bytes: raw.bytes, packet });
      } catch (err) {
        add({ bytes: raw.bytes, problem: `unreadable signature packet (${message(err)})` });
      }
    }
  }
  return parts;
}

type RawPacket = { tag: number; bytes: Uint8Array } | { problem: string; bytes: Uint8Array };

/**
 * OpenPGP packet framing (RFC 9580 section 4.2), old and new headers. Partial body lengths are for
 * data packets only, so a signature file that uses them is unreadable from there on.
 */
function* splitPackets(data: Uint8Array): Generator<RawPacket> {
  let at = 0;
  while (at < data.length) {
    const start = at;
    const first = data[at++]!;
    const rest = () => data.subarray(start);
    if ((first & 0x80) === 0) return yield { problem: `unreadable data at byte ${start} (not a packet header)`, bytes: rest() };
    let tag: number;
    let length: number | undefined;
    if (first & 0x40) {
      tag = first & 0x3f;
      const o1 = data[at++];
      if (o1 === undefined) length = undefined;
      else if (o1 < 192) length = o1;
      else if (o1 < 224) length = at < data.length ? ((o1 - 192) << 8) + data[at++]! + 192 : undefined;
      else if (o1 === 255) length = at + 4 <= data.length ? readUint32(data, (at += 4) - 4) : undefined;
      else return yield { problem: `unreadable packet at byte ${start} (partial body length in a signature)`, bytes: rest() };
    } else {
      tag = (first >> 2) & 0x0f;
      const lengthType = first & 0x03;
      if (lengthType === 3) length = data.length - at;
      else {
        const n = 1 << lengthType;
        length = at + n <= data.length ? data.subarray(at, at + n).reduce((v, b) => v * 256 + b, 0) : undefined;
        at += n;
      }
    }
    if (length === undefined || at + length > data.length) return yield { problem: `truncated packet at byte ${start}`, bytes: rest() };
    at += length;
    yield { tag, bytes: data.subarray(start, at) };
  }
}

function readUint32(data: Uint8Array, at: number): number {
  return ((data[at]! << 24) >>> 0) + (data[at + 1]! << 16) + (data[at + 2]! << 8) + data[at + 3]!;
}

function message(err: unknown): string {
  return (err as Error).message.replace(/^Error: /, '');
}
