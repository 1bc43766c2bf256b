import { posix } from 'node:path';
import { headerChecksum } from './decodeTarHeader.js';

/** tar's type flags, by the names node-tar and decodeTarHeader use */
const TYPE_FLAG = {
  File: 0x30,
  Link: 0x31,
  SymbolicLink: 0x32,
  CharacterDevice: 0x33,
  BlockDevice: 0x34,
  Directory: 0x35,
  FIFO: 0x36,
  ExtendedHeader: 0x78,
} as const;

export type TarEntryType = keyof typeof TYPE_FLAG;

export interface TarHeader {
  /** the path as stored ("./usr/bin/", "files/a.conf") */
  path: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** seconds since 1970: whole seconds in the ustar field, as given in a pax record */
  mtime: number;
  /** for links: the target as written */
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
}

export interface TarHeaderOptions {
  /**
   * The values the pax record carries when ustar cannot hold the entry. Default: path, gid, linkpath,
   * mtime, size and uid (what packDirectory always wrote); the bundle writer records path, gid, mtime and uid.
   */
  paxSize?: boolean;
}

const BLOCK = 512;
/** the largest octal numbers an 8- and a 12-byte field hold with their terminator */
const MAX_OCTAL_8 = 0o7777777;
const MAX_OCTAL_12 = 0o77777777777;
const fillZero = Uint8Array.prototype.fill;

/**
 * Fill `block` (512 bytes, used again for every entry) with the ustar header of one entry, and return the
 * pax extended header (its own header block and records, padded to 512 bytes) that must come before it when
 * ustar cannot hold the entry: a path or link target that is too long or not ASCII, an id, size or time out
 * of octal range (those fields then hold GNU's base-256 form, and the pax record the exact value).
 *
 * The bytes are those node-tar's Header and Pax wrote for ferry before (octal fields zero-padded with a
 * space and a NUL after the digits, device numbers always written, empty user and group names, the path
 * split into prefix and name at the last '/' that makes both fit), so packing the same tree gives the same
 * bytes as earlier ferry versions; it is ours so packing costs no objects or allocation per entry
 * (node-tar's Header was a quarter of the tar stream's CPU time on a tree of small files).
 */
export function encodeTarHeader(h: TarHeader, block: Buffer, opts: TarHeaderOptions = {}): Buffer | undefined {
  const needPax = writeUstar(block, h, splitPrefix(h.path));
  if (!needPax) return undefined;
  return encodePax(h, opts.paxSize ?? true);
}

/** the mode of every entry in a bundle: its bytes are data, never run from the bundle */
export const BUNDLE_ENTRY_MODE = 0o644;

/**
 * The header ferry's bundle writer puts before an entry (writeTar): `block` gets the ustar header of a
 * regular file of mode 0644, uid and gid 0, no user or group names; the return value is the pax header
 * (its block and records, padded) that goes first when ustar cannot hold the path or a number (its records
 * then hold the path, gid, mtime and uid), the ustar name then keeping the path's last 99 characters.
 * The bundle readers encode every entry's header with this again and compare the bytes (TarReader), so a
 * bundle holds no header byte that its path, its size and the manifest's epoch do not fix.
 */
export function encodeBundleHeader(path: string, size: number, mtime: number, block: Buffer): Buffer | undefined {
  const header: TarHeader = { path, type: 'File', mode: BUNDLE_ENTRY_MODE, uid: 0, gid: 0, size, mtime };
  const pax = encodeTarHeader(header, block, { paxSize: false });
  if (pax) encodeTarHeader({ ...header, path: path.slice(-99) }, block);
  return pax;
}

/**
 * encodeBundleHeader for one mtime, cheaply for the common entry (an ASCII path under 100 bytes, a size
 * ustar holds): a template of the fields every entry shares is copied, and only the name, the size and the
 * checksum (the template's sum plus theirs) are written, not the whole block zeroed, filled and summed
 * again. The readers encode every entry's header again to compare it (thousands in a mirror bundle, in
 * verify's interpreter without an optimizing compiler, where summing 512 bytes costs more than the rest).
 * Anything else goes to encodeBundleHeader; both give the same bytes (test/bundle/encodeTarHeader.test.ts).
 */
export class BundleHeaderEncoder {
  private readonly template = Buffer.alloc(BLOCK);
  /** the template's checksum: its bytes, with the checksum field as spaces */
  private readonly templateSum: number;
  /** false when every entry needs a pax header (an mtime ustar cannot hold) */
  private readonly fast: boolean;

  constructor(readonly mtime: number) {
    this.fast = encodeBundleHeader('', 0, mtime, this.template) === undefined;
    fillZero.call(this.template, 0, 124, 136);
    fillZero.call(this.template, 0, 148, 156);
    this.templateSum = headerChecksum(this.template);
  }

  /** as encodeBundleHeader(path, size, this.mtime, block) */
  encode(path: string, size: number, block: Buffer): Buffer | undefined {
    if (!this.fast || path.length >= 100 || size > MAX_OCTAL_12) return encodeBundleHeader(path, size, this.mtime, block);
    this.template.copy(block);
    let sum = this.templateSum;
    for (let i = 0; i < path.length; i++) {
      const c = path.charCodeAt(i);
      // not ASCII: the path takes a pax record
      if (c >= 0x80) return encodeBundleHeader(path, size, this.mtime, block);
      block[i] = c;
      sum += c;
    }
    writeNumber(block, 124, 12, size);
    for (let i = 124; i < 136; i++) sum += block[i]!;
    writeNumber(block, 148, 8, sum);
    return undefined;
  }
}

/** The ustar fields into `block`; true when some value did not fit (a pax record must carry it). */
function writeUstar(block: Buffer, h: TarHeader, split: { name: string; prefix: string; fits: boolean }): boolean {
  // TypedArray's own fill: Buffer's checks its arguments first, a cost at every entry
  fillZero.call(block, 0, 0, BLOCK);
  let needPax = !split.fits;
  needPax = writeText(block, 0, 100, split.name) || needPax;
  needPax = writeNumber(block, 100, 8, h.mode) || needPax;
  needPax = writeNumber(block, 108, 8, h.uid) || needPax;
  needPax = writeNumber(block, 116, 8, h.gid) || needPax;
  needPax = writeNumber(block, 124, 12, h.size) || needPax;
  needPax = writeNumber(block, 136, 12, h.mtime) || needPax;
  block[156] = TYPE_FLAG[h.type];
  if (h.linkpath !== undefined) needPax = writeText(block, 157, 100, h.linkpath) || needPax;
  block.write('ustar\x0000', 257, 8, 'latin1');
  // user and group names (265, 297) stay empty: owners are numbers only
  needPax = writeNumber(block, 329, 8, h.devmajor ?? 0) || needPax;
  needPax = writeNumber(block, 337, 8, h.devminor ?? 0) || needPax;
  // up to 155 bytes; GNU's atime and ctime after a shorter one stay empty
  needPax = writeText(block, 345, 155, split.prefix) || needPax;
  writeNumber(block, 148, 8, headerChecksum(block));
  return needPax;
}

/**
 * The pax extended header: a block named PaxHeader/BASENAME of type 'x', then the records, each
 * "LENGTH KEY=VALUE\n" where LENGTH counts the whole record, its own digits too.
 */
function encodePax(h: TarHeader, withSize: boolean): Buffer {
  let body = record('path', h.path) + record('gid', String(h.gid));
  if (h.linkpath) body += record('linkpath', h.linkpath);
  body += record('mtime', String(h.mtime));
  if (withSize) body += record('size', String(h.size));
  body += record('uid', String(h.uid));
  const bodyLength = Buffer.byteLength(body);
  const pax = Buffer.alloc(BLOCK * (1 + Math.ceil(bodyLength / BLOCK)));
  const name = `PaxHeader/${posix.basename(h.path)}`.slice(0, 99);
  writeUstar(pax, { path: name, type: 'ExtendedHeader', mode: 0o644, uid: h.uid, gid: h.gid, size: bodyLength, mtime: h.mtime, linkpath: '' }, splitPrefix(name));
  pax.write(body, BLOCK, bodyLength, 'utf8');
  return pax;
}

function record(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const bytes = Buffer.byteLength(rest);
  let length = bytes + 1;
  while (String(length).length + bytes !== length) length = String(length).length + bytes;
  return `${length}${rest}`;
}

/**
 * The path split into ustar's prefix (up to 155 bytes) and name (under 100 bytes; exactly 100 only after a
 * split): whole components move from the prefix to the name until both fit; a path that cannot be split
 * so keeps its first 99 characters as the name (the pax record holds it whole).
 */
function splitPrefix(path: string): { name: string; prefix: string; fits: boolean } {
  if (Buffer.byteLength(path) < 100) return { name: path, prefix: '', fits: true };
  const root = posix.parse(path).root || '.';
  let prefix = posix.dirname(path);
  let name = posix.basename(path);
  do {
    const prefixFits = Buffer.byteLength(prefix) <= 155;
    if (prefixFits && Buffer.byteLength(name) <= 100) return { name, prefix, fits: true };
    if (prefixFits) return { name: name.slice(0, 99), prefix, fits: false };
    name = posix.join(posix.basename(prefix), name);
    prefix = posix.dirname(prefix);
  } while (prefix !== root);
  return { name: path.slice(0, 99), prefix: '', fits: false };
}

/** UTF-8 text cut at the field's end (never inside a character); true when it is not ASCII or too long */
function writeText(block: Buffer, at: number, width: number, text: string): boolean {
  block.write(text, at, width, 'utf8');
  return text.length > width || Buffer.byteLength(text) !== text.length;
}

/**
 * A number as zero-padded octal digits, then a space and a NUL (or the digits and a NUL when they fill the
 * field); out of that range, GNU's base-256 form (0x80 or 0xff, then the value big-endian): true then.
 */
function writeNumber(block: Buffer, at: number, width: number, value: number): boolean {
  if (value < 0 || value > (width === 8 ? MAX_OCTAL_8 : MAX_OCTAL_12)) {
    writeBase256(block, at, width, value);
    return true;
  }
  const digits = Math.floor(value).toString(8);
  // the digits end before the NUL, or before a space and the NUL when there is room for it
  const end = digits.length === width - 1 ? width - 1 : width - 2;
  const start = end - digits.length;
  for (let i = 0; i < start; i++) block[at + i] = 0x30;
  for (let i = 0; i < digits.length; i++) block[at + start + i] = digits.charCodeAt(i);
  if (end < width - 1) block[at + end] = 0x20;
  block[at + width - 1] = 0;
  return false;
}

function writeBase256(block: Buffer, at: number, width: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${value} cannot be written in a tar header`);
  // two's complement over the field's remaining bytes: a negative number is 2^(8 (width - 1)) + value
  let rest = value < 0 ? -value : value;
  let borrow = value < 0;
  block[at] = value < 0 ? 0xff : 0x80;
  for (let i = at + width - 1; i > at; i--) {
    let byte = rest % 256;
    rest = Math.floor(rest / 256);
    if (value < 0) {
      byte = (borrow ? 256 - byte : 255 - byte) & 0xff;
      borrow = borrow && byte === 0;
    }
    block[i] = byte;
  }
}
