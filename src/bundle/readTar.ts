import { BundleFormatError } from '../errors.js';
import { decodeTarHeader, type DecodedTarHeader } from './decodeTarHeader.js';

const BLOCK = 512;
const ZEROS = Buffer.alloc(64 * 1024);
/** pax records are small; anything larger is hostile */
const PAX_MAX = 64 * 1024;

export interface TarEntryHeader {
  path: string;
  /** the type's name: File, Directory, SymbolicLink, Link, CharacterDevice, ... */
  type: string;
  size: number;
  mode: number;
}

/**
 * A strict, pull-based tar reader for ferry bundles. It understands ustar headers and pax 'x' records
 * (for long paths) and reports every other entry type to the caller, which refuses them. Bodies are
 * streamed chunk by chunk with back-pressure: nothing holds a whole entry unless the caller asks.
 */
export class TarReader {
  private iter: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** bytes consumed from the archive so far */
  offset = 0;

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
    let paxPath: string | undefined;
    let paxAt: number | undefined;
    for (;;) {
      if (!(await this.fill(BLOCK))) {
        throw new BundleFormatError(`${this.label}: truncated: the archive ends at byte ${this.offset + this.buf.length} without an end-of-archive marker`);
      }
      const at = this.offset;
      const block = this.take(BLOCK);
      if (at === 0) refuseCompressed(block, this.label);
      if (block.every((b) => b === 0)) {
        // its records describe the next entry: with none, they are bytes no entry (and no signature) covers
        if (paxAt !== undefined) throw new BundleFormatError(`${this.label}: pax header at byte ${paxAt} is followed by the end of the archive, not by an entry`);
        return null;
      }
      const h = decodeHeader(block, at === 0 ? `${this.label}: not a ferry bundle: not a tar archive, bad header at byte 0` : `${this.label}: corrupt tar header at byte ${at}`);
      const size = h.size;
      // a size that is no whole byte count (negative, not a number) would misalign every following header
      if (size === undefined || !Number.isSafeInteger(size) || size < 0) throw new BundleFormatError(`${this.label}: corrupt tar header at byte ${at} (its size field is not a byte count)`);
      if (h.type === 'ExtendedHeader') {
        if (paxAt !== undefined) throw new BundleFormatError(`${this.label}: two pax headers in a row at byte ${at}`);
        if (size > PAX_MAX) throw new BundleFormatError(`${this.label}: pax header of ${size} bytes at byte ${at} is too large`);
        paxAt = at;
        paxPath = parsePax(await this.readBody(size), `${this.label}: pax header at byte ${at}`);
        continue;
      }
      if (h.type === 'GlobalExtendedHeader') {
        throw new BundleFormatError(`${this.label}: global pax headers are not allowed in a ferry bundle`);
      }
      return { path: paxPath ?? h.path, type: h.type, size, mode: h.mode ?? 0 };
    }
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

/** a number field that cannot be decoded (bad or oversized base-256) or a wrong checksum: a format error */
function decodeHeader(block: Buffer, where: string): DecodedTarHeader {
  let h: DecodedTarHeader;
  try {
    h = decodeTarHeader(block);
  } catch (err) {
    throw new BundleFormatError(`${where} (${(err as Error).message})`);
  }
  if (!h.cksumValid) throw new BundleFormatError(`${where} (checksum mismatch)`);
  return h;
}

/** pax keys ferry's writer emits; any other key (size, linkpath, charset...) would change what the entry means */
const PAX_KEYS = new Set(['path', 'uid', 'gid', 'mtime', 'atime', 'ctime']);
/** what a number's record holds (an id; a time with an optional fraction): anything else is bytes no signature covers */
const PAX_ID = /^[0-9]{1,20}$/;
const PAX_TIME = /^-?[0-9]{1,20}(\.[0-9]{1,9})?$/;
const PAX_NUMBER: Record<string, RegExp> = { uid: PAX_ID, gid: PAX_ID, mtime: PAX_TIME, atime: PAX_TIME, ctime: PAX_TIME };

/**
 * A pax extended header is a series of "LEN key=value\n" records, LEN counting the whole record in bytes.
 * Only well-formed records with known keys are accepted; returns the path record, if any.
 */
function parsePax(body: Buffer, where: string): string | undefined {
  let path: string | undefined;
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
    pos = end;
  }
  return path;
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
