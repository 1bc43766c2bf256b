/** tar's type flags, by the names readBundle and its messages use; NUL is an old-style regular file */
const TYPES: Record<string, string> = {
  '0': 'File',
  '\0': 'File',
  '1': 'Link',
  '2': 'SymbolicLink',
  '3': 'CharacterDevice',
  '4': 'BlockDevice',
  '5': 'Directory',
  '6': 'FIFO',
  '7': 'ContiguousFile',
  g: 'GlobalExtendedHeader',
  x: 'ExtendedHeader',
  A: 'SolarisACL',
  D: 'GNUDumpDir',
  I: 'Inode',
  K: 'NextFileHasLongLinkpath',
  L: 'NextFileHasLongPath',
  M: 'ContinuationFile',
  N: 'OldGnuLongPath',
  S: 'SparseFile',
  V: 'TapeVolumeHeader',
  X: 'OldExtendedHeader',
};

export interface DecodedTarHeader {
  path: string;
  type: string;
  /** undefined when the field holds no byte count (not octal, or negative) */
  size: number | undefined;
  mode: number | undefined;
  /** computed when read */
  readonly cksumValid: boolean;
}

/**
 * The fields of a 512-byte ustar header that a bundle reader needs: path (with the ustar prefix), type,
 * size, mode, and whether the checksum matches. Numbers are octal text or base-256 (GNU); a base-256
 * number past 2^53 is an error (it would silently lose its low bits), a negative one is no count.
 * Decoded here rather than with node-tar, whose module costs verify several MiB of memory at start-up for
 * these few fields.
 */
export function decodeTarHeader(block: Buffer): DecodedTarHeader {
  let path = text(block, 0, 100);
  const flag = String.fromCharCode(block[156]!);
  let type = TYPES[flag] ?? 'Unsupported';
  if (block.toString('latin1', 257, 265) === 'ustar\x0000') {
    // a prefix of up to 155 bytes; a NUL at 130 leaves room for GNU's atime/ctime after it
    const prefix = text(block, 345, block[475] !== 0 ? 155 : 130);
    if (prefix) path = `${prefix}/${path}`;
  }
  // old tar writers marked folders as files whose name ends in "/"
  if (type === 'File' && path.endsWith('/')) type = 'Directory';
  const size = number(block, 124, 12);
  return {
    path,
    type,
    size: type === 'Directory' ? 0 : size === undefined || size < 0 ? undefined : size,
    mode: number(block, 100, 8),
    // summed only when asked: a reader that compares the whole block with the one it expects needs no sum
    get cksumValid() {
      return headerChecksum(block) === number(block, 148, 8);
    },
  };
}

/** the mtime field (seconds, octal text or base-256); undefined when it holds no number */
export function decodeTarMtime(block: Buffer): number | undefined {
  return number(block, 136, 12);
}

function text(block: Buffer, at: number, length: number): string {
  const nul = block.indexOf(0, at);
  return block.toString('utf8', at, nul >= at && nul < at + length ? nul : at + length);
}

/** octal text (up to a NUL, spaces around it), or base-256 when the high bit of the first byte is set */
function number(block: Buffer, at: number, length: number): number | undefined {
  const first = block[at]!;
  if (first & 0x80) {
    if (first !== 0x80 && first !== 0xff) throw new Error('invalid base256 encoding');
    let value = 0n;
    for (let i = at + 1; i < at + length; i++) value = (value << 8n) | BigInt(block[i]!);
    if (first === 0xff) value -= 1n << BigInt(8 * (length - 1));
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error('parsed number outside of javascript safe integer range');
    return Number(value);
  }
  // only octal digits: parseInt would read "17x" as 15 and let a forged field pass as a count
  const digits = text(block, at, length).trim();
  return /^[0-7]+$/.test(digits) ? parseInt(digits, 8) : undefined;
}

/** the header's byte sum with its checksum field counted as eight spaces (what its checksum field holds) */
export function headerChecksum(block: Buffer): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < 512; i++) sum += block[i]!;
  return sum;
}
