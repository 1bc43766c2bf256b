import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { readFully } from '../../util/readFully.js';
import { formatRelation, parseProvides } from './parseDependencies.js';
import type { AptOrigin, AptPackage } from './types.js';

/**
 * A Packages index in one compact buffer, decoded only where the resolver looks.
 *
 * Debian's main has ~63,000 packages; a lock visits a few hundred of them. Rebuilding one JS object per
 * package (what the v1 cache did through v8.deserialize) cost seconds and ~150 MiB; this form is one
 * table of u32 words plus one string table, so opening it is a read and a checksum, and a package
 * becomes an object only when `get(i)` asks for it (then the same object every time: the resolver
 * compares packages by identity).
 *
 * Layout (u32 words in the machine's byte order: the file is a local cache, and a foreign order fails
 * the magic word and is rebuilt):
 *
 *   header  MAGIC, LAYOUT, body bytes, 0, then sha256(body) (12 words)
 *   body    counts: records, strings, meets, provided names, string bytes, hash slots
 *           records: FIELDS words each (string ids, NONE when absent; size as two words; flags)
 *           meetStart[records + 1], meets[] (string ids): the names apt's cache meets reading the record
 *           namedStart[strings + 1], named[]: by string id, the records of that name (in index order)
 *           providingStart[strings + 1], providing[]: by string id, the records that Provide it
 *           slots[]: open-addressing hash table (FNV-1a, linear probing) of every name met -> string id
 *           stringStart[strings + 1] (byte offsets), then the string bytes (UTF-8)
 */
const MAGIC = 0x46525950; // "FRYP"
/** 5: Essential, Important and Protected read as apt reads yes/no, relation names kept in their case, a Provides other than `=` dropped (a 4 entry may hold other values) */
export const PACKED_LAYOUT = 6;
const HEADER_WORDS = 12; // 4 words, then the 32-byte sha256
const NONE = 0xffffffff;
const COUNTS = 6;
/** the number tables of a body, in order (see PackedIndex's constructor) */
const TABLES = 10;

const F_NAME = 0;
const F_VERSION = 1;
const F_ARCH = 2;
const F_MULTIARCH = 3;
const F_PRIORITY = 4;
const F_DEPENDS = 5;
const F_PREDEPENDS = 6;
const F_RECOMMENDS = 7;
const F_CONFLICTS = 8;
const F_BREAKS = 9;
const F_OTHER = 10;
const F_PROVIDES = 11;
const F_FILENAME = 12;
const F_SHA256 = 13;
const F_SIZE_HI = 14;
const F_SIZE_LO = 15;
const F_FLAGS = 16;
const F_SECTION = 17;
const F_SOURCE = 18;
const FIELDS = 19;
const ESSENTIAL = 1;
const IMPORTANT = 2;

/** FNV-1a over the UTF-16 code units (names are ASCII; packing and lookup hash the same JS strings). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A u32 array that grows as it is appended to, in place: its buffer is resizable, so growing commits
 * more of one reserved address range instead of copying into a new array and leaving the old one to the
 * collector (copies that, for bookworm main, piled up ~20 MiB of dead buffers during a parse).
 */
/** ES2024's resizable ArrayBuffer: Node 20 has it, the project's TypeScript library (ES2022) does not name it */
const ResizableBuffer = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer & { resize(length: number): void };

class Words {
  private readonly buffer = new ResizableBuffer(4096, { maxByteLength: 2 ** 32 });
  /** tracks the buffer's length as it grows */
  readonly array = new Uint32Array(this.buffer);
  length = 0;
  push(n: number): void {
    if (this.length === this.array.length) this.buffer.resize(Math.min(2 ** 32, Math.ceil(this.buffer.byteLength * 1.5 / 4096) * 4096));
    this.array[this.length++] = n;
  }
  get words(): Uint32Array {
    return this.array.subarray(0, this.length);
  }
}

/** Records grouped by a string id of theirs (CSR: start[id] .. start[id + 1] in `list`), index order kept. */
function groupBy(strings: number, ids: Uint32Array, records: Uint32Array): [Uint32Array, Uint32Array] {
  const start = new Uint32Array(strings + 1);
  for (const id of ids) start[id + 1]!++;
  for (let id = 0; id < strings; id++) start[id + 1]! += start[id]!;
  const fill = start.slice(0, strings);
  const list = new Uint32Array(ids.length);
  ids.forEach((id, k) => (list[fill[id]!++] = records[k]!));
  return [start, list];
}

const NAME_RE = /(?:^|[,|])\s*([a-z0-9][a-z0-9+.-]*)(:[a-z0-9-]+)?/gi;

/**
 * The names apt's cache numbers when it reads this package, in its order: the package itself, then the
 * names in its Pre-Depends, Depends, Conflicts, Breaks, Recommends, Suggests, Replaces, Enhances, then
 * Provides (buildPackageIndex's `order`). `name:any` names an implicit package of its own, not `name`.
 */
function namesMet(p: AptPackage): string[] {
  const out = new Set<string>([p.name]);
  for (const field of [p.preDepends, p.depends, p.conflicts, p.breaks, p.recommends, p.otherRelations]) {
    if (!field) continue;
    for (const m of field.matchAll(NAME_RE)) if (m[2] === undefined || m[2].toLowerCase() !== ':any') out.add(m[1]!);
  }
  for (const prov of p.provides) out.add(prov.name);
  return [...out];
}

const TEXT_CHUNK = 1 << 20;

/** FNV-1a over bytes: the writer's own table of shared strings, which never leaves the writer. */
function hashBytes(b: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * Packs packages one at a time, as a Packages index is parsed: no package object outlives its `add`, a
 * string shared by many packages (a name, a Depends line, a version) is kept once, and the strings no
 * other package shares (file name, sha256) are not remembered at all, only written. `finish` gives the
 * packed index as parts to write one after the other (its sha256 computed over them), never copied into
 * one buffer: for bookworm main the ~30 MiB index exists once, in its parts.
 *
 * Shared strings are found again through an open-addressing table over their bytes in the string table
 * itself, not through a Map of JS strings: bookworm main has ~205,000 of them (11.6 M characters), which
 * as Map keys held ~24 MiB of heap on top of their bytes for the whole parse.
 */
export class PackedIndexWriter {
  /** pairs (string id + 1, hash of its bytes); 0 marks an empty slot */
  private internSlots = new Uint32Array(2 << 16);
  private interned = 0;
  /** by string id: whether it names a package, a relation's target or a Provides (the hash table's keys) */
  private isName = new Uint8Array(1 << 16);
  private readonly nameIds = new Words();
  private readonly nameHashes = new Words();
  private readonly stringEnd = new Words();
  /** by string id: the text chunk holding its bytes (a string never straddles two chunks) */
  private readonly stringChunk = new Words();
  private readonly text: Buffer[] = [Buffer.allocUnsafeSlow(TEXT_CHUNK)];
  /** the global byte offset at which each text chunk starts */
  private readonly chunkBase: number[] = [0];
  private textUsed = 0;
  private textBytes = 0;
  private readonly records = new Words();
  /** the record being added */
  private readonly record = new Uint32Array(FIELDS);
  private readonly meets = new Words();
  private readonly meetEnd = new Words();
  private readonly providingIds = new Words();
  private readonly providingRecords = new Words();
  private count = 0;

  /** Write `s` after the last string (not yet taken into the table): where its bytes are, and how many. */
  private stage(s: string): number {
    const room = s.length * 3; // UTF-8 takes at most 3 bytes per UTF-16 code unit
    if (this.textUsed + room > this.text[this.text.length - 1]!.length) {
      this.text[this.text.length - 1] = this.text[this.text.length - 1]!.subarray(0, this.textUsed);
      this.text.push(Buffer.allocUnsafeSlow(Math.max(TEXT_CHUNK, room)));
      this.chunkBase.push(this.textBytes);
      this.textUsed = 0;
    }
    return this.text[this.text.length - 1]!.write(s, this.textUsed, 'utf8');
  }

  /** Take the staged bytes into the table as a new string; its id. */
  private commit(bytes: number): number {
    this.textUsed += bytes;
    this.textBytes += bytes;
    this.stringEnd.push(this.textBytes);
    this.stringChunk.push(this.text.length - 1);
    return this.stringEnd.length - 1;
  }

  /** a new string's id (its UTF-8 bytes appended to the table) */
  private append(s: string): number {
    return this.commit(this.stage(s));
  }

  /** the id of a string many packages may share (kept once) */
  private shared(s: string | undefined): number {
    if (s === undefined) return NONE;
    const bytes = this.stage(s);
    const chunk = this.text[this.text.length - 1]!;
    const at = this.textUsed;
    const h = hashBytes(chunk, at, at + bytes);
    const slots = this.internSlots;
    const mask = (slots.length >> 1) - 1;
    let slot = h & mask;
    for (; slots[slot * 2] !== 0; slot = (slot + 1) & mask) {
      if (slots[slot * 2 + 1] !== h) continue;
      const id = slots[slot * 2]! - 1;
      const c = this.stringChunk.array[id]!;
      const end = this.stringEnd.array[id]! - this.chunkBase[c]!;
      const start = (id === 0 ? 0 : this.stringEnd.array[id - 1]!) - this.chunkBase[c]!;
      if (end - start === bytes && this.text[c]!.compare(chunk, at, at + bytes, start, end) === 0) return id;
    }
    const id = this.commit(bytes);
    slots[slot * 2] = id + 1;
    slots[slot * 2 + 1] = h;
    if (++this.interned * 2 > mask + 1) this.growInternTable();
    return id;
  }

  private growInternTable(): void {
    const old = this.internSlots;
    const slots = new Uint32Array(old.length * 2);
    const mask = (slots.length >> 1) - 1;
    for (let k = 0; k < old.length; k += 2) {
      if (old[k] === 0) continue;
      let slot = old[k + 1]! & mask;
      while (slots[slot * 2] !== 0) slot = (slot + 1) & mask;
      slots[slot * 2] = old[k]!;
      slots[slot * 2 + 1] = old[k + 1]!;
    }
    this.internSlots = slots;
  }

  private name(s: string): number {
    const n = this.shared(s);
    if (n >= this.isName.length) {
      const bigger = new Uint8Array(Math.max(n + 1, this.isName.length * 2));
      bigger.set(this.isName);
      this.isName = bigger;
    }
    if (this.isName[n] === 0) {
      this.isName[n] = 1;
      this.nameIds.push(n);
      this.nameHashes.push(hash(s));
    }
    return n;
  }

  add(p: AptPackage): void {
    const r = this.record;
    r[F_NAME] = this.name(p.name);
    r[F_VERSION] = this.shared(p.version);
    r[F_ARCH] = this.shared(p.architecture);
    r[F_MULTIARCH] = this.shared(p.multiArch);
    r[F_PRIORITY] = this.shared(p.priority);
    r[F_DEPENDS] = this.shared(p.depends);
    r[F_PREDEPENDS] = this.shared(p.preDepends);
    r[F_RECOMMENDS] = this.shared(p.recommends);
    r[F_CONFLICTS] = this.shared(p.conflicts);
    r[F_BREAKS] = this.shared(p.breaks);
    r[F_OTHER] = this.shared(p.otherRelations);
    r[F_PROVIDES] = p.provides.length > 0 ? this.shared(p.provides.map(formatRelation).join(', ')) : NONE;
    r[F_FILENAME] = this.append(p.filename);
    // a stanza with SHA512 only keeps that digest here (128 hex digits against 64: never mistaken for one)
    r[F_SHA256] = this.append(p.sha256 || p.sha512!);
    r[F_SIZE_HI] = Math.floor(p.size / 2 ** 32);
    r[F_SIZE_LO] = p.size % 2 ** 32;
    r[F_FLAGS] = (p.essential ? ESSENTIAL : 0) | (p.important ? IMPORTANT : 0);
    r[F_SECTION] = this.shared(p.section);
    r[F_SOURCE] = this.shared(p.source);
    for (const n of r) this.records.push(n);
    for (const n of namesMet(p)) this.meets.push(this.name(n));
    this.meetEnd.push(this.meets.length);
    for (const prov of p.provides) {
      this.providingIds.push(this.name(prov.name));
      this.providingRecords.push(this.count);
    }
    this.count++;
  }

  /** The packed index, as consecutive parts (the header first). */
  finish(): Uint8Array[] {
    const strings = this.stringEnd.length;
    const records = this.records.words;
    const nameOf = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) nameOf[i] = records[i * FIELDS + F_NAME]!;
    const [namedStart, namedList] = groupBy(strings, nameOf, new Uint32Array(this.count).map((_, i) => i));
    const [providingStart, providingList] = groupBy(strings, this.providingIds.words, this.providingRecords.words);
    let size = 1;
    while (size < this.nameIds.length * 2) size *= 2;
    const slots = new Uint32Array(size).fill(NONE);
    const nameHashes = this.nameHashes.words;
    this.nameIds.words.forEach((n, k) => {
      let at = nameHashes[k]! & (size - 1);
      while (slots[at] !== NONE) at = (at + 1) & (size - 1);
      slots[at] = n;
    });
    const meetStart = new Uint32Array(this.count + 1);
    meetStart.set(this.meetEnd.words, 1);
    const stringStart = new Uint32Array(strings + 1);
    stringStart.set(this.stringEnd.words, 1);
    this.text[this.text.length - 1] = this.text[this.text.length - 1]!.subarray(0, this.textUsed);
    const counts = new Uint32Array([this.count, strings, this.meets.length, this.providingIds.length, this.textBytes, size]);
    const tables = [counts, records, meetStart, this.meets.words, namedStart, namedList, providingStart, providingList, slots, stringStart];
    const body = [...tables.map((t) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength)), ...this.text];
    const hasher = createHash('sha256');
    let length = 0;
    for (const part of body) {
      hasher.update(part);
      length += part.length;
    }
    const header = Buffer.alloc(HEADER_WORDS * 4);
    new Uint32Array(header.buffer, header.byteOffset, 4).set([MAGIC, PACKED_LAYOUT, length, 0]);
    hasher.digest().copy(header, 16);
    return [header, ...body];
  }
}

/** Encode packages in one buffer (their origins are not kept: the same bytes may come from another URI). */
export function packIndex(packages: Iterable<AptPackage>): Buffer {
  const writer = new PackedIndexWriter();
  for (const p of packages) writer.add(p);
  return Buffer.concat(writer.finish());
}

/** Whether a header names this layout and a body of the length that follows it. */
function headerFits(header: Buffer, total: number): boolean {
  if (header.length < HEADER_WORDS * 4) return false;
  const h = new Uint32Array(header.buffer, header.byteOffset, 4);
  return h[0] === MAGIC && h[1] === PACKED_LAYOUT && h[2] === total - HEADER_WORDS * 4;
}

/** The number of u32 words before the string bytes, when the counts (the body's first words) agree with its length. */
function tableWords(counts: Uint32Array, bodyLength: number): number | undefined {
  if (counts.length < COUNTS) return undefined;
  const [count, strings, nMeets, nProviding, bytes, nSlots] = counts as unknown as number[] as [number, number, number, number, number, number];
  const words = COUNTS + count * (FIELDS + 2) + 1 + nMeets + (strings + 1) * 3 + nProviding + nSlots;
  return words * 4 + bytes === bodyLength && (nSlots & (nSlots - 1)) === 0 ? words : undefined;
}

/** Closes the file of an index read from disk once nothing uses the index any more. */
const openFiles = new FinalizationRegistry<number>((fd) => closeSync(fd));

/** The records of one packed index; `origin` is where these bytes came from this time. */
export class PackedIndex {
  readonly count: number;
  /** how many strings the table holds (ids are 0 … strings - 1) */
  readonly strings: number;
  private readonly records: Uint32Array;
  private readonly meetStart: Uint32Array;
  private readonly meets: Uint32Array;
  private readonly namedStart: Uint32Array;
  private readonly named: Uint32Array;
  private readonly providingStart: Uint32Array;
  private readonly providing: Uint32Array;
  private readonly slots: Uint32Array;
  private readonly stringStart: Uint32Array;
  /** the bytes start … end of the string table as text */
  private readonly text: (start: number, end: number) => string;
  private readonly decoded = new Map<number, string>();
  private readonly packages = new Map<number, AptPackage>();

  /** `tables`: counts, records, meetStart, meets, namedStart, named, providingStart, providing, slots, stringStart */
  private constructor(tables: readonly Uint32Array[], text: (start: number, end: number) => string, readonly origin: AptOrigin) {
    const [counts, records, meetStart, meets, namedStart, named, providingStart, providing, slots, stringStart] = tables as [Uint32Array, ...Uint32Array[]];
    this.count = counts[0]!;
    this.strings = counts[1]!;
    [this.records, this.meetStart, this.meets, this.namedStart, this.named, this.providingStart, this.providing, this.slots, this.stringStart] = [
      records!, meetStart!, meets!, namedStart!, named!, providingStart!, providing!, slots!, stringStart!,
    ];
    this.text = text;
  }

  /** The tables of a body's number part (its first `tableWords` words), as views. */
  private static tables(words: Uint32Array): Uint32Array[] {
    const [count, strings, nMeets, nProviding, , nSlots] = words as unknown as number[] as [number, number, number, number, number, number];
    let at = 0;
    const take = (n: number) => words.subarray(at, (at += n));
    return [take(COUNTS), take(count * FIELDS), take(count + 1), take(nMeets), take(strings + 1), take(count), take(strings + 1), take(nProviding), take(nSlots), take(strings + 1)];
  }

  /**
   * The index a PackedIndexWriter just finished, from its parts as they are in memory (the parts it wrote
   * to the cache): nothing is read back, copied or hashed again.
   */
  static fromParts(parts: readonly Uint8Array[], origin: AptOrigin): PackedIndex {
    const tables = parts.slice(1, 1 + TABLES).map((t) => new Uint32Array(t.buffer, t.byteOffset, t.byteLength / 4));
    // the writer never lets a string straddle two text chunks
    const chunks = parts.slice(1 + TABLES).map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    const bases: number[] = [];
    let base = 0;
    for (const c of chunks) {
      bases.push(base);
      base += c.length;
    }
    const text = (start: number, end: number): string => {
      if (start === end) return '';
      let lo = 0;
      let hi = chunks.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (bases[mid]! <= start) lo = mid;
        else hi = mid - 1;
      }
      return chunks[lo]!.toString('utf8', start - bases[lo]!, end - bases[lo]!);
    };
    return new PackedIndex(tables, text, origin);
  }

  /**
   * Open a packed index held in memory, or undefined when the buffer is not one whole, undamaged index
   * of this layout (truncated, changed on disk, another layout): a cache entry is never trusted blindly.
   */
  static open(data: Buffer, origin: AptOrigin): PackedIndex | undefined {
    // the u32 views need 4-byte alignment; a small Buffer may sit anywhere in Node's pool (alloc is never pooled)
    const buf = data.byteOffset % 4 === 0 ? data : Buffer.alloc(data.length, data);
    if (!headerFits(buf, buf.length)) return undefined;
    const body = buf.subarray(HEADER_WORDS * 4);
    if (!createHash('sha256').update(body).digest().equals(buf.subarray(16, 48))) return undefined;
    const words = tableWords(new Uint32Array(body.buffer, body.byteOffset, Math.min(COUNTS, body.length >> 2)), body.length);
    if (words === undefined) return undefined;
    const strings = body.subarray(words * 4);
    return new PackedIndex(PackedIndex.tables(new Uint32Array(body.buffer, body.byteOffset, words)), (start, end) => strings.toString('utf8', start, end), origin);
  }

  /**
   * Open a packed index file, checked whole as `open` checks a buffer, keeping only its number table
   * in memory (~12 of bookworm main's ~30 MiB): a string is read from the file when first used, and a
   * lock uses a few thousand of its 315,000. The check streams the string table through one small
   * buffer, so the file is never in memory whole. The file stays open while the index is in use: the
   * cache only ever replaces an entry by a rename, so what is read later is what was checked.
   */
  static openFile(path: string, origin: AptOrigin): PackedIndex | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    const index = PackedIndex.checkFile(fd, origin);
    if (index) openFiles.register(index, fd);
    else closeSync(fd);
    return index;
  }

  private static checkFile(fd: number, origin: AptOrigin): PackedIndex | undefined {
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(HEADER_WORDS * 4);
    if (size < header.length || !readFully(fd, header, 0) || !headerFits(header, size)) return undefined;
    const bodyLength = size - header.length;
    const counts = new Uint32Array(Math.min(COUNTS, bodyLength >> 2));
    if (!readFully(fd, new Uint8Array(counts.buffer), header.length)) return undefined;
    const words = tableWords(counts, bodyLength);
    if (words === undefined) return undefined;
    const hasher = createHash('sha256');
    const table = new Uint32Array(words);
    const tableBytes = new Uint8Array(table.buffer);
    if (!readFully(fd, tableBytes, header.length)) return undefined;
    hasher.update(tableBytes);
    const stringsAt = header.length + words * 4;
    const chunk = Buffer.allocUnsafeSlow(1 << 20);
    for (let at = stringsAt; at < size; at += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, size - at));
      if (!readFully(fd, part, at)) return undefined;
      hasher.update(part);
    }
    if (!hasher.digest().equals(header.subarray(16, 48))) return undefined;
    let scratch = chunk;
    const text = (start: number, end: number): string => {
      if (end - start > scratch.length) scratch = Buffer.allocUnsafeSlow(end - start);
      const part = scratch.subarray(0, end - start);
      if (!readFully(fd, part, stringsAt + start)) throw new Error(`the packed index file shrank while in use (string table bytes ${start}-${end})`);
      return part.toString('utf8');
    };
    return new PackedIndex(PackedIndex.tables(table), text, origin);
  }

  /** A string of the table, decoded once. */
  string(id: number): string {
    let s = this.decoded.get(id);
    if (s === undefined) {
      s = this.text(this.stringStart[id]!, this.stringStart[id + 1]!);
      this.decoded.set(id, s);
    }
    return s;
  }

  private optional(i: number, field: number): string | undefined {
    const id = this.records[i * FIELDS + field]!;
    return id === NONE ? undefined : this.string(id);
  }

  nameId(i: number): number {
    return this.records[i * FIELDS + F_NAME]!;
  }

  archId(i: number): number {
    return this.records[i * FIELDS + F_ARCH]!;
  }

  /** the string ids of the names apt's cache meets reading record i */
  namesMet(i: number): Uint32Array {
    return this.meets.subarray(this.meetStart[i], this.meetStart[i + 1]);
  }

  /** the string id of a name some record meets (its own, a relation's, a Provides), or undefined */
  lookup(name: string): number | undefined {
    const mask = this.slots.length - 1;
    if (mask < 0) return undefined;
    for (let at = hash(name) & mask; ; at = (at + 1) & mask) {
      const id = this.slots[at]!;
      if (id === NONE) return undefined;
      if (this.string(id) === name) return id;
    }
  }

  /** the records whose package is named by string `id` */
  recordsNamed(id: number): Uint32Array {
    return this.named.subarray(this.namedStart[id], this.namedStart[id + 1]);
  }

  /** the records that Provide the name with string `id` */
  recordsProviding(id: number): Uint32Array {
    return this.providing.subarray(this.providingStart[id], this.providingStart[id + 1]);
  }

  /** Record i as a package (decoded on first use, then the same object). */
  get(i: number): AptPackage {
    let p = this.packages.get(i);
    if (p) return p;
    const r = i * FIELDS;
    const flags = this.records[r + F_FLAGS]!;
    p = {
      name: this.string(this.records[r + F_NAME]!),
      version: this.string(this.records[r + F_VERSION]!),
      architecture: this.string(this.records[r + F_ARCH]!),
      essential: (flags & ESSENTIAL) !== 0,
      provides: parseProvides(this.optional(i, F_PROVIDES)),
      filename: this.string(this.records[r + F_FILENAME]!),
      size: this.records[r + F_SIZE_HI]! * 2 ** 32 + this.records[r + F_SIZE_LO]!,
      sha256: this.string(this.records[r + F_SHA256]!),
      origin: this.origin,
    };
    if (p.sha256.length === 128) {
      p.sha512 = p.sha256;
      p.sha256 = '';
    }
    const optional: Array<[keyof AptPackage, number]> = [
      ['multiArch', F_MULTIARCH], ['priority', F_PRIORITY], ['depends', F_DEPENDS], ['preDepends', F_PREDEPENDS], ['recommends', F_RECOMMENDS],
      ['conflicts', F_CONFLICTS], ['breaks', F_BREAKS], ['otherRelations', F_OTHER], ['section', F_SECTION], ['source', F_SOURCE],
    ];
    for (const [key, field] of optional) {
      const v = this.optional(i, field);
      if (v !== undefined) (p as unknown as Record<string, string>)[key] = v;
    }
    if (flags & IMPORTANT) p.important = true;
    this.packages.set(i, p);
    return p;
  }
}
