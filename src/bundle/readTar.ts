import { BundleFormatError } from '../errors.js';
import { decodeTarHeader, decodeTarMtime, type DecodedTarHeader } from './decodeTarHeader.js';
import { BundleHeaderEncoder } from './encodeTarHeader.js';
import { MANIFEST_PATH, SIGNATURE_PATH, type Manifest } from './manifest.js';

const BLOCK = 512;
const ZEROS = Buffer.alloc(64 * 1024);
/** zeros allowed after the end-of-archive marker: far more than any tar writer's record (GNU tar: 10 KiB) */
export const TRAILING_ZEROS_MAX = 1024 * 1024;
/** pax records are small; anything larger is hostile */
const PAX_MAX = 64 * 1024;

export interface TarEntryHeader {
  path: string;
  /** the type's name: File, Directory, SymbolicLink, Link, CharacterDevice, ... */
  type: string;
  size: number;
  mode: number;
}

/** a pax header met before an entry: where, its header block and records (copies), and what they say */
interface PaxSeen {
  at: number;
  header: Buffer;
  body: Buffer;
  path?: string;
  mtime?: string;
}

/** a regular file's header as read: its ustar block, and the pax header before it */
interface EntrySeen {
  at: number;
  path: string;
  size: number;
  header: Buffer;
  pax?: PaxSeen;
}

/**
 * A strict, pull-based tar reader for ferry bundles. It understands ustar headers and pax 'x' records
 * (for long paths) and reports every other entry type to the caller, which refuses them. Bodies are
 * streamed chunk by chunk with back-pressure: nothing holds a whole entry unless the caller asks.
 *
 * A regular file's header (and the pax header before it) must be byte for byte the one ferry's writer
 * makes for its path and size (encodeBundleHeader), with the mtime every entry shares: the first entry's
 * until the caller names the manifest's epoch (expectMtime). Whatever else a tar header can hold (owner
 * names, a link name, bytes after a name's NUL, numbers spelled otherwise, device numbers, another magic,
 * other pax records) is bytes no signature covers, and is refused.
 */
export class TarReader {
  private iter: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** bytes consumed from the archive so far */
  offset = 0;
  /** encodes the header ferry writes, with the mtime every entry carries: the first entry's until expectMtime names it */
  private encoder: BundleHeaderEncoder | undefined;
  private mtimeNamed = false;
  /** headers of the entries read before expectMtime, checked again against the mtime it names */
  private unconfirmed: EntrySeen[] = [];
  /** where the header ferry writes is encoded, to be compared with the one read */
  private expected = Buffer.alloc(BLOCK);
  /** regular files met so far */
  private files = 0;

  /**
   * `chunks` may lend its buffers (lendFileChunks): the reader keeps a chunk's bytes only until it asks for
   * the next one (then it copies what is left), and bodies are handed on as views of the chunks.
   */
  constructor(chunks: AsyncIterable<Buffer>, private label: string) {
    this.iter = chunks[Symbol.asyncIterator]();
  }

  /** Stop reading early: ends the source (a stream is destroyed, a file closed). */
  async close(): Promise<void> {
    await this.iter.return?.();
  }

  private async fill(min: number): Promise<boolean> {
    while (this.buf.length < min && !this.done) {
      const r = await this.iter.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    }
    return this.buf.length >= min;
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  /** Next entry header, or null at the end-of-archive marker. Throws on truncation or a bad header. */
  async next(): Promise<TarEntryHeader | null> {
    let pax: PaxSeen | undefined;
    for (;;) {
      if (!(await this.fill(BLOCK))) {
        throw new BundleFormatError(`${this.label}: truncated: the archive ends at byte ${this.offset + this.buf.length} without an end-of-archive marker`);
      }
      const at = this.offset;
      const block = this.take(BLOCK);
      if (at === 0) refuseCompressed(block, this.label);
      if (block.every((b) => b === 0)) {
        // its records describe the next entry: with none, they are bytes no entry (and no signature) covers
        if (pax) throw new BundleFormatError(`${this.label}: pax header at byte ${pax.at} is followed by the end of the archive, not by an entry`);
        return null;
      }
      const where = at === 0 ? `${this.label}: not a ferry bundle: not a tar archive, bad header at byte 0` : `${this.label}: corrupt tar header at byte ${at}`;
      const h = decodeHeader(block, where);
      const size = h.size;
      // a size that is no whole byte count (negative, not a number) would misalign every following header
      const sized = size !== undefined && Number.isSafeInteger(size) && size >= 0;
      // a regular file's checksum is summed only when its header is not the one ferry writes (which holds the right sum)
      if (h.type !== 'File' || !sized) expectChecksum(h, where);
      if (!sized) throw new BundleFormatError(`${this.label}: corrupt tar header at byte ${at} (its size field is not a byte count)`);
      if (h.type === 'ExtendedHeader') {
        if (pax) throw new BundleFormatError(`${this.label}: two pax headers in a row at byte ${at}`);
        if (size > PAX_MAX) throw new BundleFormatError(`${this.label}: pax header of ${size} bytes at byte ${at} is too large`);
        // a copy: the chunk the block is in may be read into again while the records are read
        const header = Buffer.from(block);
        const body = await this.readBody(size);
        pax = { at, header, body, ...parsePax(body, `${this.label}: pax header at byte ${at}`) };
        continue;
      }
      if (h.type === 'GlobalExtendedHeader') {
        throw new BundleFormatError(`${this.label}: global pax headers are not allowed in a ferry bundle`);
      }
      const path = pax?.path ?? h.path;
      // other types are the caller's to refuse, with what they are; so is a first or second entry that is
      // not the manifest or its signature (another tar: "not a ferry bundle" says more than its header's bytes)
      const head = this.files < HEAD.length && path !== HEAD[this.files];
      if (h.type === 'File' && !head) this.expectWritersHeader({ at, path, size, header: block, pax }, h, where);
      if (h.type === 'File') this.files++;
      return { path, type: h.type, size, mode: h.mode ?? 0 };
    }
  }

  /**
   * The entry's header must be the one ferry writes for its path and size, with the mtime all entries
   * share; one that is not, and whose checksum is wrong too, is refused as corrupt (`where`), as before.
   */
  private expectWritersHeader(e: EntrySeen, h: DecodedTarHeader, where: string): void {
    let wrong: string | undefined;
    try {
      this.encoder ??= new BundleHeaderEncoder(firstMtime(e));
      wrong = writersHeaderDifference(e, this.encoder, this.expected);
    } catch (err) {
      // the first entry's mtime is no number, or none ferry could write
      wrong = err instanceof BundleFormatError ? err.message : `tar header at byte ${e.at} (${JSON.stringify(e.path)}) has an mtime ferry cannot write (${(err as Error).message})`;
    }
    if (wrong !== undefined) {
      expectChecksum(h, where);
      throw new BundleFormatError(`${this.label}: ${wrong}: the bundle was changed after it was written`);
    }
    if (!this.mtimeNamed) this.unconfirmed.push({ ...e, header: Buffer.from(e.header) });
  }

  /**
   * Every entry's mtime is `seconds` (`what`: the manifest's epoch, which the writer gives every entry):
   * the headers read so far must be the writer's with it, and every later one is encoded with it.
   */
  expectMtime(seconds: number, what: string): void {
    let encoder: BundleHeaderEncoder;
    try {
      encoder = new BundleHeaderEncoder(seconds);
    } catch {
      // a fraction of a second before 1970: no tar header holds it, so ferry cannot have written the bundle
      throw new BundleFormatError(`${this.label}: ${what} is no mtime a tar header can carry: the bundle was not written by ferry`);
    }
    for (const e of this.unconfirmed) {
      if (writersHeaderDifference(e, encoder, this.expected) !== undefined) {
        throw new BundleFormatError(`${this.label}: the tar header at byte ${e.pax?.at ?? e.at} (${JSON.stringify(e.path)}) has another mtime than ${what}: the bundle was changed after it was written`);
      }
    }
    this.encoder = encoder;
    this.mtimeNamed = true;
    this.unconfirmed = [];
  }

  /**
   * After the end-of-archive marker: the rest of the archive must be zeros (the second marker block, a
   * writer's padding to its record size). Bytes there are outside every entry, so the manifest and its
   * signature say nothing about them: a bundle with any is refused, not read as if they were not there.
   */
  async expectOnlyZeros(): Promise<void> {
    const end = this.offset;
    for (;;) {
      if (this.buf.length === 0 && !(await this.fill(1))) return;
      // a writer pads to its record (GNU tar: 10 KiB); a hole of terabytes appended to a signed bundle (no
      // disk space taken, no key needed) kept verify and import reading zeros for hours
      if (this.offset - end > TRAILING_ZEROS_MAX) {
        throw new BundleFormatError(`${this.label}: more than ${TRAILING_ZEROS_MAX} bytes after the end-of-archive marker at byte ${end} (a tar writer pads with at most a record of zeros): the bundle was changed after it was written`);
      }
      // compared with zeros natively (memcmp), a block at a time; only a block that differs is searched
      const n = Math.min(this.buf.length, ZEROS.length);
      if (!this.buf.subarray(0, n).equals(ZEROS.subarray(0, n))) {
        const at = this.buf.findIndex((b) => b !== 0);
        throw new BundleFormatError(`${this.label}: data after the end-of-archive marker at byte ${end} (non-zero byte at ${this.offset + at}): the bundle was changed after it was written`);
      }
      this.take(n);
    }
  }

  /** Read a whole (small) body, including its padding. */
  async readBody(size: number): Promise<Buffer> {
    // one copy: the chunks may be lent
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for await (const chunk of this.body(size)) at += chunk.copy(out, at);
    return out;
  }

  /** Stream a body of `size` bytes, then skip its padding. Must be consumed fully before next(). */
  async *body(size: number): AsyncGenerator<Buffer> {
    let left = size;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1))) {
        throw new BundleFormatError(`${this.label}: truncated: the archive ends inside an entry (${left} bytes missing)`);
      }
      const n = Math.min(left, this.buf.length);
      left -= n;
      yield this.take(n);
    }
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) {
      if (!(await this.fill(pad))) throw new BundleFormatError(`${this.label}: truncated: the archive ends inside padding`);
      // the padding is outside the entry, so its sha256 says nothing about it: only zeros, as after the end marker
      const at = this.offset;
      const padding = this.take(pad);
      if (!padding.equals(ZEROS.subarray(0, pad))) {
        throw new BundleFormatError(`${this.label}: non-zero byte in the padding after an entry at byte ${at + padding.findIndex((b) => b !== 0)}: the bundle was changed after it was written`);
      }
    }
  }
}

/** a number field that cannot be decoded (bad or oversized base-256): a format error */
function decodeHeader(block: Buffer, where: string): DecodedTarHeader {
  try {
    return decodeTarHeader(block);
  } catch (err) {
    throw new BundleFormatError(`${where} (${(err as Error).message})`);
  }
}

/** a wrong checksum (or a checksum field that cannot be decoded): a format error */
function expectChecksum(h: DecodedTarHeader, where: string): void {
  let valid: boolean;
  try {
    valid = h.cksumValid;
  } catch (err) {
    throw new BundleFormatError(`${where} (${(err as Error).message})`);
  }
  if (!valid) throw new BundleFormatError(`${where} (checksum mismatch)`);
}

/** the entries a bundle starts with, in order: every reader refuses a bundle whose first two are not these */
const HEAD = [MANIFEST_PATH, SIGNATURE_PATH];

/** The bundle's entries carry the manifest's epoch as their mtime: the one writeTar gives them all (packBundle). */
export function expectEpochMtime(tar: TarReader, manifest: { epoch: string }): void {
  tar.expectMtime(Date.parse(manifest.epoch) / 1000, `the manifest's epoch ${manifest.epoch}`);
}

/** The size ferry's writer gives a bundle of this manifest whose head takes `headBytes`; undefined when it cannot write an entry. */
export function writtenSize(manifest: Pick<Manifest, 'epoch' | 'entries' | 'omitted'>, headBytes: number): number | undefined {
  const omitted = new Set(manifest.omitted ?? []);
  const block = Buffer.alloc(512);
  try {
    const encoder = new BundleHeaderEncoder(Date.parse(manifest.epoch) / 1000);
    let size = headBytes + 1024;
    for (const e of manifest.entries) {
      if (!omitted.has(e.path)) size += (encoder.encode(e.path, e.size, block)?.length ?? 0) + 512 + Math.ceil(e.size / 512) * 512;
    }
    return size;
  } catch {
    return undefined;
  }
}

/** the mtime of the first entry, which every other shares: its pax record's when it has one (that one is exact), else its ustar field */
function firstMtime(e: EntrySeen): number {
  let seconds: number | undefined;
  try {
    seconds = e.pax?.mtime !== undefined ? Number(e.pax.mtime) : decodeTarMtime(e.header);
  } catch {
    // a base-256 field that is no number: below, as every other field ferry would not write
  }
  if (seconds === undefined) throw new BundleFormatError(`tar header at byte ${e.at} (${JSON.stringify(e.path)}) has an mtime field that holds no number`);
  return seconds;
}

/** the fields of a ustar header by their first byte, to name the first one that differs */
const FIELDS: Array<[number, string]> = [
  [0, 'name'],
  [100, 'mode'],
  [108, 'uid'],
  [116, 'gid'],
  [124, 'size'],
  [136, 'mtime'],
  [148, 'checksum'],
  [156, 'type flag'],
  [157, 'link name'],
  [257, 'magic'],
  [263, 'version'],
  [265, 'user name'],
  [297, 'group name'],
  [329, 'device major'],
  [337, 'device minor'],
  [345, 'name prefix'],
  [500, 'unused last 12 bytes'],
];

/**
 * How an entry's header (and pax header) differs from the bytes ferry's writer makes for its path and size
 * with `mtime`, as the start of a message; undefined when they are the same. `scratch` is a 512-byte block.
 */
function writersHeaderDifference(e: EntrySeen, encoder: BundleHeaderEncoder, scratch: Buffer): string | undefined {
  let pax: Buffer | undefined;
  try {
    pax = encoder.encode(e.path, e.size, scratch);
  } catch (err) {
    return `tar header at byte ${e.at} (${JSON.stringify(e.path)}) holds a value ferry cannot write (${(err as Error).message})`;
  }
  if (pax === undefined && e.pax === undefined && e.header.equals(scratch)) return undefined;
  const entry = JSON.stringify(e.path);
  if (e.pax && !pax) return `pax header at byte ${e.pax.at} before ${entry}, which ferry writes with a ustar header alone`;
  if (!e.pax && pax) return `tar header at byte ${e.at} (${entry}) without the pax header ferry writes before it`;
  if (e.pax && pax) {
    // the records first: other records make another size field too, and that is not what to report
    const records = pax.subarray(BLOCK, BLOCK + decodeTarHeader(pax).size!);
    if (!records.equals(e.pax.body)) {
      let at = 0;
      while (at < records.length && records[at] === e.pax.body[at]) at++;
      return `pax header at byte ${e.pax.at} (before ${entry}) holds other records than ferry writes (byte ${e.pax.at + BLOCK + at})`;
    }
    const d = firstDifference(e.pax.header, pax.subarray(0, BLOCK));
    if (d !== undefined) return `pax header at byte ${e.pax.at} (before ${entry}) differs from the one ferry writes in its ${fieldAt(d)} (byte ${e.pax.at + d})`;
  }
  const d = firstDifference(e.header, scratch);
  return d === undefined ? undefined : `tar header at byte ${e.at} (${entry}) differs from the one ferry writes in its ${fieldAt(d)} (byte ${e.at + d})`;
}

/** the first byte at which two header blocks differ, the checksum field last (it differs whenever another does) */
function firstDifference(got: Buffer, want: Buffer): number | undefined {
  let checksum: number | undefined;
  for (let i = 0; i < BLOCK; i++) {
    if (got[i] === want[i]) continue;
    if (i < 148 || i >= 156) return i;
    checksum ??= i;
  }
  return checksum;
}

function fieldAt(offset: number): string {
  let name = FIELDS[0]![1];
  for (const [start, field] of FIELDS) if (offset >= start) name = field;
  return `${name} field`;
}

/** pax keys ferry's writer emits; any other key (size, linkpath, charset...) would change what the entry means */
const PAX_KEYS = new Set(['path', 'uid', 'gid', 'mtime', 'atime', 'ctime']);
/** what a number's record holds (an id; a time with an optional fraction): anything else is bytes no signature covers */
const PAX_ID = /^[0-9]{1,20}$/;
const PAX_TIME = /^-?[0-9]{1,20}(\.[0-9]{1,9})?$/;
const PAX_NUMBER: Record<string, RegExp> = { uid: PAX_ID, gid: PAX_ID, mtime: PAX_TIME, atime: PAX_TIME, ctime: PAX_TIME };

/**
 * A pax extended header is a series of "LEN key=value\n" records, LEN counting the whole record in bytes.
 * Only well-formed records with known keys are accepted; returns the path and mtime records, if any.
 */
function parsePax(body: Buffer, where: string): { path?: string; mtime?: string } {
  let path: string | undefined;
  let mtime: string | undefined;
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    const lenText = space > pos ? body.toString('latin1', pos, space) : '';
    const len = /^[1-9][0-9]{0,5}$/.test(lenText) ? Number(lenText) : NaN;
    const end = pos + len;
    if (!(len > 0) || end > body.length || body[end - 1] !== 0x0a) throw new BundleFormatError(`${where} is malformed (record at byte ${pos})`);
    let record: string;
    try {
      record = UTF8.decode(body.subarray(space + 1, end - 1));
    } catch {
      throw new BundleFormatError(`${where} is not valid UTF-8`);
    }
    const eq = record.indexOf('=');
    const key = eq > 0 ? record.slice(0, eq) : '';
    if (!PAX_KEYS.has(key)) throw new BundleFormatError(`${where} has ${key ? `the key ${JSON.stringify(key)}` : 'a record without a key'}, which a ferry bundle never carries`);
    if (key === 'path') path = record.slice(eq + 1);
    else if (!PAX_NUMBER[key]!.test(record.slice(eq + 1))) throw new BundleFormatError(`${where} has a ${JSON.stringify(key)} record that is not a number`);
    if (key === 'mtime') mtime = record.slice(eq + 1);
    pos = end;
  }
  return { path, mtime };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Magic numbers of the compressors people reach for: a clear message instead of "corrupt tar header". */
const COMPRESSED: Array<[string, number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
];

function refuseCompressed(start: Buffer, label: string): void {
  for (const [name, magic] of COMPRESSED) {
    if (magic.every((b, i) => start[i] === b)) {
      throw new BundleFormatError(`${label}: not a ferry bundle: it is ${name}-compressed (a bundle is a plain tar): decompress it first, or check that this is the .ferry file`);
    }
  }
}
