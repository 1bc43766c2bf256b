import type { Readable } from 'node:stream';
import { Header, Pax } from 'tar';
import { BundleFormatError } from '../errors.js';

const BLOCK = 512;
/** pax records are small; anything larger is hostile */
const PAX_MAX = 64 * 1024;

export interface TarEntryHeader {
  path: string;
  /** node-tar's type name: File, Directory, SymbolicLink, Link, CharacterDevice, ... */
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

  constructor(stream: Readable, private label: string) {
    this.iter = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
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
    for (;;) {
      if (!(await this.fill(BLOCK))) {
        throw new BundleFormatError(`${this.label}: truncated: the archive ends at byte ${this.offset + this.buf.length} without an end-of-archive marker`);
      }
      const block = this.take(BLOCK);
      if (block.every((b) => b === 0)) return null;
      const h = new Header(block);
      if (!h.cksumValid) throw new BundleFormatError(`${this.label}: corrupt tar header at byte ${this.offset - BLOCK} (checksum mismatch)`);
      const size = h.size ?? 0;
      if (h.type === 'ExtendedHeader') {
        if (size > PAX_MAX) throw new BundleFormatError(`${this.label}: pax header of ${size} bytes at byte ${this.offset - BLOCK} is too large`);
        const body = await this.readBody(size);
        paxPath = Pax.parse(body.toString('utf8')).path ?? paxPath;
        continue;
      }
      if (h.type === 'GlobalExtendedHeader') {
        throw new BundleFormatError(`${this.label}: global pax headers are not allowed in a ferry bundle`);
      }
      return { path: paxPath ?? h.path ?? '', type: h.type, size, mode: h.mode ?? 0 };
    }
  }

  /** Read a whole (small) body, including its padding. */
  async readBody(size: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.body(size)) parts.push(Buffer.from(chunk));
    return Buffer.concat(parts);
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
      this.take(pad);
    }
  }
}
