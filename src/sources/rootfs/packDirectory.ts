import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, type Stats } from 'node:fs';
import type { Writable } from 'node:stream';
import { encodeTarHeader, type TarHeader } from '../../bundle/encodeTarHeader.js';
import { FerryError, IntegrityError } from '../../errors.js';
import type { Logger } from '../../ui/log.js';
import { walkDirectorySorted, type WalkEntry } from './walkDirectorySorted.js';

/** Output goes out in buffers of this size, a few of them used again and again. */
const CHUNK = 1 << 20;
const BUFFERS = 4;
/** TypedArray's own fill: Buffer's checks its arguments first, a cost at every entry's padding */
const fillZero = Uint8Array.prototype.fill;

/**
 * Write the tar stream of a folder into `out` (left open: the caller ends it), made to be reproducible:
 * entries sorted by name, every mtime the given epoch, owners kept as numbers (no user or group names),
 * modes kept with their setuid, setgid and sticky bits, symbolic links, hard links (by device and inode:
 * the first path in order carries the data, later ones link to it), device nodes and FIFOs kept as
 * entries. Paths start with "./" as in `tar -C DIR .`. ustar headers, with a pax header only for what
 * ustar cannot hold (long names, large ids or sizes), so the same tree gives the same bytes.
 *
 * Files are read with direct system calls, like GNU tar (see walkDirectorySorted), straight into 1 MiB
 * output buffers: no copy, and a thousand hand-offs per GiB instead of three per file. The buffers are
 * used again once `out` calls their write back, so `out` must be done with a chunk by then (a file or
 * pipe stream is, and parallelGzip is; one that keeps chunks, such as a PassThrough read later, is not):
 * a fresh buffer per MiB cost the kernel a zeroed mapping each, as much system time as the reads. At
 * most four are in flight, which is also the back-pressure.
 */
export async function packDirectory(root: string, out: Writable, opts: { epoch: Date; log?: Logger }): Promise<void> {
  const mtime = Math.floor(opts.epoch.getTime() / 1000);
  // every entry's header is made in this one block, then copied into the output
  const block = Buffer.alloc(512);
  const links = new Map<string, string>();
  const output = new OutputBuffer(out);
  try {
    for (const entry of walkDirectorySorted(root)) {
      // a file is opened first and its header made from the open file: one path lookup, and the bytes
      // packed are those of the file the header describes, even if a link took its name meanwhile
      const fd = entry.type === 'file' ? openFile(entry.file) : undefined;
      try {
        const s = fd !== undefined ? fstatSync(fd) : lstatSync(entry.file);
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
        const pax = encodeTarHeader(headerFor(entry, s, mtime, linkTarget), block);
        if (pax) await output.write(pax);
        await output.write(block);
        if (s.isFile() && linkTarget === undefined) {
          if (fd === undefined) throw new IntegrityError(`${entry.path} changed while it was being packed (listed as another kind of entry, then a file); pack a folder that nothing is writing to`);
          await output.readFile(fd, s.size, entry.path);
        }
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    await output.zeros(1024);
    await output.flush();
  } finally {
    output.close();
  }
}

/**
 * Fills buffers with headers, file data read in place, and zero padding, and writes each full one to
 * `out`; a buffer comes back to be filled again when its write calls back.
 */
class OutputBuffer {
  private free: Buffer[] = [];
  private made = 1;
  private buf: Buffer = Buffer.allocUnsafe(CHUNK);
  private off = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly onError = (err: Error) => this.fail(err);

  constructor(private readonly out: Writable) {
    out.on('error', this.onError);
  }

  close(): void {
    this.out.off('error', this.onError);
  }

  /** hand the filled part to `out`, and go on in a free buffer (waiting for one when all are in flight) */
  async flush(): Promise<void> {
    if (this.off > 0) {
      const buf = this.buf;
      this.out.write(buf.subarray(0, this.off), (err) => {
        if (err) this.fail(err);
        this.free.push(buf);
        this.wake?.();
      });
    }
    this.off = 0;
    for (;;) {
      if (this.failure) throw this.failure;
      const next = this.free.pop() ?? (this.made < BUFFERS ? (this.made++, Buffer.allocUnsafe(CHUNK)) : undefined);
      if (next) {
        this.buf = next;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  async write(data: Buffer): Promise<void> {
    for (let at = 0; at < data.length; ) {
      if (this.off === CHUNK) await this.flush();
      const n = data.copy(this.buf, this.off, at, Math.min(data.length, at + CHUNK - this.off));
      this.off += n;
      at += n;
    }
  }

  async zeros(count: number): Promise<void> {
    while (count > 0) {
      if (this.off === CHUNK) await this.flush();
      const n = Math.min(count, CHUNK - this.off);
      fillZero.call(this.buf, 0, this.off, this.off + n);
      this.off += n;
      count -= n;
    }
  }

  /** The open file's bytes as its stat gave their size, then zeros to a 512-byte boundary; a file that grew or shrank since is an error. */
  async readFile(fd: number, size: number, path: string): Promise<void> {
    // the last read asks for one byte past the listed end where the buffer has room for it (for most
    // files it has): a file that grew fills it. Only a file ending exactly at a buffer's end takes a
    // read of its own for that, into the next buffer.
    let pos = 0;
    let endSeen = false;
    while (pos < size || !endSeen) {
      if (this.off === CHUNK) await this.flush();
      const left = size - pos;
      const want = Math.min(CHUNK - this.off, left + 1);
      const n = readSync(fd, this.buf, this.off, want, pos);
      if (n > left) throw changed(path, size, size + 1);
      if (n === 0 && left > 0) throw changed(path, size, pos);
      endSeen = want > left && n === left;
      this.off += n;
      pos += n;
    }
    await this.zeros((512 - (size % 512)) % 512);
  }
}

/** the entry's header fields; a pax header comes first only for what ustar cannot hold (long path, large uid...) */
function headerFor(entry: WalkEntry, s: Stats, mtime: number, linkTarget: string | undefined): TarHeader {
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

/**
 * Open what the listing called a regular file without following a link (and without blocking, should a
 * FIFO have taken its name): its descriptor, or undefined when a link now stands there (lstat says what).
 */
function openFile(file: string): number | undefined {
  try {
    return openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return undefined;
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
