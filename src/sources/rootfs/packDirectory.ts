import { closeSync, openSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { encodeTarHeader, type TarHeader } from '../../bundle/encodeTarHeader.js';
import { FerryError, IntegrityError } from '../../errors.js';
import type { Logger } from '../../ui/log.js';
import { walkDirectorySorted, type WalkEntry } from './walkDirectorySorted.js';

/** Output comes in buffers of this size; after every 8 of them the event loop gets a turn (the compressor's callbacks). */
const CHUNK = 1 << 20;
const YIELD_EVERY = 8;
/** TypedArray's own fill: Buffer's checks its arguments first, a cost at every entry's padding */
const fillZero = Uint8Array.prototype.fill;

/**
 * The tar stream of a folder, made to be reproducible: entries sorted by name, every mtime the
 * given epoch, owners kept as numbers (no user or group names), modes kept with their setuid,
 * setgid and sticky bits, symbolic links, hard links (by device and inode: the first path in order
 * carries the data, later ones link to it), device nodes and FIFOs kept as entries. Paths start
 * with "./" as in `tar -C DIR .`. ustar headers, with a pax header only for what ustar cannot hold
 * (long names, large ids or sizes), so the same tree gives the same bytes.
 *
 * Files are read with direct system calls, like GNU tar (see walkDirectorySorted), straight into
 * 1 MiB output buffers: no copy, and a thousand hand-offs per GiB instead of three per file. The
 * compressor works on other threads meanwhile.
 */
export async function* packDirectory(root: string, opts: { epoch: Date; log?: Logger }): AsyncGenerator<Buffer> {
  const mtime = Math.floor(opts.epoch.getTime() / 1000);
  // every entry's header is made in this one block, then copied into the output
  const block = Buffer.alloc(512);
  const links = new Map<string, string>();
  const out = new OutputBuffer();
  let flushed = 0;
  const ready = function* () {
    while (out.full.length) yield out.full.shift()!;
  };
  for (const entry of walkDirectorySorted(root)) {
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
    const pax = encodeTarHeader(headerFor(entry, mtime, linkTarget), block);
    if (pax) out.write(pax);
    out.write(block);
    if (s.isFile() && linkTarget === undefined) out.readFile(entry.file, s.size, entry.path);
    if (out.full.length) {
      yield* ready();
      if (++flushed % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
    }
  }
  out.zeros(1024);
  out.flush();
  yield* ready();
}

/** Fills 1 MiB buffers with headers, file data read in place, and zero padding; full ones wait in `full`. */
class OutputBuffer {
  full: Buffer[] = [];
  private buf = Buffer.allocUnsafe(CHUNK);
  private off = 0;

  flush(): void {
    if (this.off > 0) this.full.push(this.buf.subarray(0, this.off));
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.off = 0;
  }

  write(data: Buffer): void {
    for (let at = 0; at < data.length; ) {
      if (this.off === CHUNK) this.flush();
      const n = data.copy(this.buf, this.off, at, Math.min(data.length, at + CHUNK - this.off));
      this.off += n;
      at += n;
    }
  }

  zeros(count: number): void {
    while (count > 0) {
      if (this.off === CHUNK) this.flush();
      const n = Math.min(count, CHUNK - this.off);
      fillZero.call(this.buf, 0, this.off, this.off + n);
      this.off += n;
      count -= n;
    }
  }

  /** The file's bytes as listed (size from the walk), then zeros to a 512-byte boundary; a file that grew or shrank since is an error. */
  readFile(file: string, size: number, path: string): void {
    const fd = openOrExplain(file);
    try {
      // the last read asks for one byte past the listed end where the buffer has room for it (for most
      // files it has): a file that grew fills it. Only a file ending exactly at a buffer's end takes a
      // read of its own for that, into the next buffer.
      let pos = 0;
      let endSeen = false;
      while (pos < size || !endSeen) {
        if (this.off === CHUNK) this.flush();
        const left = size - pos;
        const want = Math.min(CHUNK - this.off, left + 1);
        const n = readSync(fd, this.buf, this.off, want, pos);
        if (n > left) throw changed(path, size, size + 1);
        if (n === 0 && left > 0) throw changed(path, size, pos);
        endSeen = want > left && n === left;
        this.off += n;
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
    this.zeros((512 - (size % 512)) % 512);
  }
}

/** the entry's header fields; a pax header comes first only for what ustar cannot hold (long path, large uid...) */
function headerFor(entry: WalkEntry, mtime: number, linkTarget: string | undefined): TarHeader {
  const s = entry.stat;
  const base = { path: entry.path, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtime, size: 0 };
  if (s.isDirectory()) return { ...base, path: entry.path + '/', type: 'Directory' };
  if (s.isSymbolicLink()) return { ...base, type: 'SymbolicLink', linkpath: readlinkSync(entry.file) };
  if (linkTarget !== undefined) return { ...base, type: 'Link', linkpath: linkTarget };
  if (s.isCharacterDevice() || s.isBlockDevice()) {
    const { major, minor } = splitDevice(s);
    return { ...base, type: s.isCharacterDevice() ? 'CharacterDevice' : 'BlockDevice', devmajor: major, devminor: minor };
  }
  if (s.isFIFO()) return { ...base, type: 'FIFO' };
  return { ...base, type: 'File', size: s.size };
}

function openOrExplain(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FerryError(`cannot read ${file} (${code}) to pack it${code === 'EACCES' ? ': pack as root, or make it readable' : ''}`, { cause: err });
  }
}

function changed(path: string, expected: number, found: number): IntegrityError {
  return new IntegrityError(
    `${path} changed while it was being packed (${expected} bytes when listed, ${found > expected ? 'more' : found} when read); ` +
      'pack a folder that nothing is writing to (stop the writer, or copy it first)',
  );
}

/** Linux's dev_t layout (glibc's major()/minor()). */
function splitDevice(s: Stats): { major: number; minor: number } {
  const rdev = BigInt(s.rdev);
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}
