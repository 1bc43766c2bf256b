import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { formatRelation, parseDependencies, type Relation } from './parseDependencies.js';
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
export const PACKED_LAYOUT = 3;
const HEADER_WORDS = 12; // 4 words, then the 32-byte sha256
const NONE = 0xffffffff;
const COUNTS = 6;

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
const FIELDS = 18;
const ESSENTIAL = 1;
const IMPORTANT = 2;

/** FNV-1a over the UTF-16 code units (names are ASCII; packing and lookup hash the same JS strings). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A u32 array that grows as it is appended to (by half again: at most a third of it unused). */
class Words {
  array = new Uint32Array(1024);
  length = 0;
  push(n: number): void {
    if (this.length === this.array.length) {
      const bigger = new Uint32Array(Math.ceil(this.array.length * 1.5));
      bigger.set(this.array);
      this.array = bigger;
    }
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
    for (const m of field.matchAll(NAME_RE)) if (m[2] === undefined || m[2].toLowerCase() !== ':any') out.add(m[1]!.toLowerCase());
  }
  for (const prov of p.provides) out.add(prov.name);
  return [...out];
}

const TEXT_CHUNK = 1 << 20;

/**
 * Packs packages one at a time, as a Packages index is parsed: no package object outlives its `add`, a
 * string shared by many packages (a name, a Depends line, a version) is kept once, and the strings no
 * other package shares (file name, sha256) are not remembered at all, only written. `finish` gives the
 * packed index as parts to write one after the other (its sha256 computed over them), never copied into
 * one buffer: for bookworm main the ~30 MiB index exists once, in its parts.
 */
export class PackedIndexWriter {
  private readonly ids = new Map<string, number>();
  /** string ids that name a package, a relation's target or a Provides: the hash table's keys */
  private readonly names = new Set<number>();
  private readonly stringEnd = new Words();
  private readonly text: Buffer[] = [Buffer.allocUnsafeSlow(TEXT_CHUNK)];
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

  /** a new string's id (its UTF-8 bytes appended to the table) */
  private append(s: string): number {
    const bytes = Buffer.byteLength(s, 'utf8');
    let chunk = this.text[this.text.length - 1]!;
    if (this.textUsed + bytes > chunk.length) {
      chunk = Buffer.allocUnsafeSlow(Math.max(TEXT_CHUNK, bytes));
      this.text[this.text.length - 1] = this.text[this.text.length - 1]!.subarray(0, this.textUsed);
      this.text.push(chunk);
      this.textUsed = 0;
    }
    this.textUsed += chunk.write(s, this.textUsed, 'utf8');
    this.textBytes += bytes;
    this.stringEnd.push(this.textBytes);
    return this.stringEnd.length - 1;
  }

  /** the id of a string many packages may share (kept once) */
  private shared(s: string | undefined): number {
    if (s === undefined) return NONE;
    let n = this.ids.get(s);
    if (n === undefined) {
      n = this.append(s);
      this.ids.set(s, n);
    }
    return n;
  }

  private name(s: string): number {
    const n = this.shared(s);
    this.names.add(n);
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
    r[F_SHA256] = this.append(p.sha256);
    r[F_SIZE_HI] = Math.floor(p.size / 2 ** 32);
    r[F_SIZE_LO] = p.size % 2 ** 32;
    r[F_FLAGS] = (p.essential ? ESSENTIAL : 0) | (p.important ? IMPORTANT : 0);
    r[F_SECTION] = this.shared(p.section);
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
    while (size < this.names.size * 2) size *= 2;
    const slots = new Uint32Array(size).fill(NONE);
    for (const [s, n] of this.ids) {
      if (!this.names.has(n)) continue;
      let at = hash(s) & (size - 1);
      while (slots[at] !== NONE) at = (at + 1) & (size - 1);
      slots[at] = n;
    }
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

/** Fill `buf` from the file at `position`; false when the file ends first. */
function readFully(fd: number, buf: Uint8Array, position: number): boolean {
  for (let got = 0; got < buf.length; ) {
    const n = readSync(fd, buf, got, buf.length - got, position + got);
    if (n <= 0) return false;
    got += n;
  }
  return true;
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

  private constructor(words: Uint32Array, text: (start: number, end: number) => string, private readonly origin: AptOrigin) {
    const [count, strings, nMeets, nProviding, , nSlots] = words as unknown as number[] as [number, number, number, number, number, number];
    this.count = count;
    this.strings = strings;
    let at = COUNTS;
    const take = (n: number) => words.subarray(at, (at += n));
    this.records = take(count * FIELDS);
    this.meetStart = take(count + 1);
    this.meets = take(nMeets);
    this.namedStart = take(strings + 1);
    this.named = take(count);
    this.providingStart = take(strings + 1);
    this.providing = take(nProviding);
    this.slots = take(nSlots);
    this.stringStart = take(strings + 1);
    this.text = text;
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
    return new PackedIndex(new Uint32Array(body.buffer, body.byteOffset, words), (start, end) => strings.toString('utf8', start, end), origin);
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
    return new PackedIndex(table, text, origin);
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
      provides: parseDependencies(this.optional(i, F_PROVIDES)).map((g) => g[0]!) as Relation[],
      filename: this.string(this.records[r + F_FILENAME]!),
      size: this.records[r + F_SIZE_HI]! * 2 ** 32 + this.records[r + F_SIZE_LO]!,
      sha256: this.string(this.records[r + F_SHA256]!),
      origin: this.origin,
    };
    const optional: Array<[keyof AptPackage, number]> = [
      ['multiArch', F_MULTIARCH], ['priority', F_PRIORITY], ['depends', F_DEPENDS], ['preDepends', F_PREDEPENDS], ['recommends', F_RECOMMENDS],
      ['conflicts', F_CONFLICTS], ['breaks', F_BREAKS], ['otherRelations', F_OTHER], ['section', F_SECTION],
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
