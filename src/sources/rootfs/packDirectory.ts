import { open } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { Header, Pax, type HeaderData } from 'tar';
import { IntegrityError } from '../../errors.js';
import type { Logger } from '../../ui/log.js';
import { walkDirectorySorted, type WalkEntry } from './walkDirectorySorted.js';

/** Files up to this size are read whole, ahead of the writer; larger ones are streamed in their turn. */
const SMALL_FILE = 4 << 20;
/** Read-ahead limits: entries and bytes held while earlier entries are being written. */
const AHEAD_ENTRIES = 256;
const AHEAD_BYTES = 64 << 20;
const STREAM_CHUNK = 1 << 20;
const ZERO = Buffer.alloc(1024);

type Encoded = { blocks: Buffer[]; bytes: number } | { blocks: Buffer[]; bytes: number; stream: { file: string; size: number; path: string } };

/**
 * The tar stream of a folder, made to be reproducible: entries sorted by name, every mtime the
 * given epoch, owners kept as numbers (no user or group names), modes kept with their setuid,
 * setgid and sticky bits, symbolic links, hard links (by device and inode: the first path in order
 * carries the data, later ones link to it), device nodes and FIFOs kept as entries. Paths start
 * with "./" as in `tar -C DIR .`. ustar headers, with a pax header only for what ustar cannot hold
 * (long names, large ids or sizes), so the same tree gives the same bytes.
 *
 * Files are read ahead of the writer, many at a time, because small-file trees are bound by
 * system calls, not by bytes.
 */
export async function* packDirectory(root: string, opts: { epoch: Date; log?: Logger }): AsyncGenerator<Buffer> {
  const mtime = new Date(Math.floor(opts.epoch.getTime() / 1000) * 1000);
  const links = new Map<string, string>();
  const ahead: Array<Promise<Encoded>> = [];
  let aheadBytes = 0;
  const sizes: number[] = [];

  async function* emit(enc: Encoded): AsyncGenerator<Buffer> {
    aheadBytes -= enc.bytes;
    yield* enc.blocks;
    if ('stream' in enc) yield* streamFile(enc.stream.file, enc.stream.size, enc.stream.path);
  }

  for await (const entry of walkDirectorySorted(root)) {
    const s = entry.stat;
    if (s.isSocket()) {
      opts.log?.warn(`${entry.file}: a socket cannot be packed; left out of the rootfs`);
      continue;
    }
    let linkTarget: string | undefined;
    if (s.isFile() && s.nlink > 1) {
      const key = `${s.dev}:${s.ino}`;
      linkTarget = links.get(key);
      if (linkTarget === undefined) links.set(key, entry.path);
    }
    const inline = s.isFile() && linkTarget === undefined && s.size <= SMALL_FILE;
    const bytes = inline ? s.size : 0;
    aheadBytes += bytes;
    sizes.push(bytes);
    const p = encodeEntry(entry, mtime, linkTarget);
    p.catch(() => {});
    ahead.push(p);
    while (ahead.length > AHEAD_ENTRIES || aheadBytes > AHEAD_BYTES) yield* emit(await ahead.shift()!);
  }
  while (ahead.length) yield* emit(await ahead.shift()!);
  yield ZERO;
}

async function encodeEntry(entry: WalkEntry, mtime: Date, linkTarget: string | undefined): Promise<Encoded> {
  const s = entry.stat;
  const base = { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtime, uname: '', gname: '', size: 0 };
  if (s.isDirectory()) return { blocks: headerBlocks({ ...base, path: entry.path + '/', type: 'Directory' }), bytes: 0 };
  if (s.isSymbolicLink()) {
    const target = await readlink(entry.file);
    return { blocks: headerBlocks({ ...base, path: entry.path, type: 'SymbolicLink', linkpath: target }), bytes: 0 };
  }
  if (linkTarget !== undefined) return { blocks: headerBlocks({ ...base, path: entry.path, type: 'Link', linkpath: linkTarget }), bytes: 0 };
  if (s.isCharacterDevice() || s.isBlockDevice()) {
    const { major, minor } = splitDevice(s);
    return {
      blocks: headerBlocks({ ...base, path: entry.path, type: s.isCharacterDevice() ? 'CharacterDevice' : 'BlockDevice', devmaj: major, devmin: minor }),
      bytes: 0,
    };
  }
  if (s.isFIFO()) return { blocks: headerBlocks({ ...base, path: entry.path, type: 'FIFO' }), bytes: 0 };
  const head = headerBlocks({ ...base, path: entry.path, type: 'File', size: s.size });
  if (s.size > SMALL_FILE) return { blocks: head, bytes: 0, stream: { file: entry.file, size: s.size, path: entry.path } };
  const fh = await open(entry.file, 'r');
  try {
    // one extra byte shows a file that grew since it was stat'ed
    const body = Buffer.allocUnsafe(s.size + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(body, got, body.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === body.length) break;
    }
    if (got !== s.size) throw changed(entry.path, s.size, got);
    const pad = (512 - (s.size % 512)) % 512;
    return { blocks: pad ? [...head, body.subarray(0, s.size), ZERO.subarray(0, pad)] : [...head, body.subarray(0, s.size)], bytes: s.size };
  } finally {
    await fh.close();
  }
}

async function* streamFile(file: string, size: number, path: string): AsyncGenerator<Buffer> {
  const fh = await open(file, 'r');
  try {
    let pos = 0;
    while (pos < size) {
      const buf = Buffer.allocUnsafe(Math.min(STREAM_CHUNK, size - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) throw changed(path, size, pos);
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
    const { bytesRead } = await fh.read(Buffer.alloc(1), 0, 1, pos);
    if (bytesRead !== 0) throw changed(path, size, size + 1);
    const pad = (512 - (size % 512)) % 512;
    if (pad) yield ZERO.subarray(0, pad);
  } finally {
    await fh.close();
  }
}

function changed(path: string, expected: number, found: number): IntegrityError {
  return new IntegrityError(
    `${path} changed while it was being packed (${expected} bytes when listed, ${found > expected ? 'more' : found} when read); ` +
      'pack a folder that nothing is writing to (stop the writer, or copy it first)',
  );
}

/** A ustar header, preceded by a pax header when a field does not fit (long path, large uid...). */
function headerBlocks(data: HeaderData & { path: string }): Buffer[] {
  const block = Buffer.alloc(512);
  const h = new Header(data);
  if (!h.encode(block)) return [block];
  const pax = new Pax({ path: data.path, linkpath: data.linkpath || undefined, size: data.size, uid: data.uid, gid: data.gid, mtime: data.mtime }).encode();
  return [pax, block];
}

/** Linux's dev_t layout (glibc's major()/minor()). */
function splitDevice(s: Stats): { major: number; minor: number } {
  const rdev = BigInt(s.rdev);
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}
