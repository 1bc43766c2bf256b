import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { Header, Pax } from 'tar';
import { IntegrityError } from '../errors.js';

export interface TarFile {
  /** path inside the archive */
  path: string;
  /** bytes in memory, or a file on disk streamed in */
  data?: Uint8Array;
  file?: string;
  size: number;
  /** the digest the manifest records for `file`: checked as it streams in, so no other bytes are packed */
  sha256?: string;
  mode?: number;
}

const BLOCK = 512;
const ZERO = Buffer.alloc(BLOCK * 2);

/**
 * Write a deterministic ustar archive: entries in the order given (callers sort), regular files only,
 * uid/gid 0, no user or group names, one fixed mtime, mode 0644 unless given. node-tar's Header and Pax
 * encode the headers (pax only for paths ustar cannot hold); the framing is ours so nothing
 * from the build machine (owners, times, umask) can leak into the bytes.
 */
export async function writeTar(out: Writable, files: Iterable<TarFile>, mtime: Date): Promise<number> {
  let written = 0;
  const write = async (buf: Uint8Array) => {
    written += buf.length;
    if (!out.write(buf)) await once(out, 'drain');
  };
  for (const f of files) {
    const meta = { path: f.path, mode: f.mode ?? 0o644, uid: 0, gid: 0, size: f.size, mtime, type: 'File' as const, uname: '', gname: '' };
    const block = Buffer.alloc(BLOCK);
    const header = new Header(meta);
    if (header.encode(block)) {
      // the path does not fit ustar's name+prefix: a pax record carries it
      await write(new Pax({ path: f.path, uid: 0, gid: 0, mtime }).encode());
      block.fill(0);
      new Header({ ...meta, path: f.path.slice(-99) }).encode(block);
    }
    await write(block);
    let n = 0;
    if (f.data) {
      await write(f.data);
      n = f.data.length;
    } else if (f.file) {
      const hash = f.sha256 === undefined ? undefined : createHash('sha256');
      for await (const chunk of createReadStream(f.file, { highWaterMark: 1 << 20 })) {
        n += (chunk as Buffer).length;
        hash?.update(chunk as Buffer);
        await write(chunk as Buffer);
      }
      const got = hash?.digest('hex');
      if (n === f.size && got !== undefined && got !== f.sha256) {
        throw new IntegrityError(`${f.file} has sha256 ${got}, but the manifest records ${f.sha256} for ${f.path}; the file was damaged or changed on disk (delete it from the cache and build again)`);
      }
    }
    if (n !== f.size) throw new IntegrityError(`${f.file ?? f.path} changed while being packed: expected ${f.size} bytes, read ${n}`);
    const pad = (BLOCK - (n % BLOCK)) % BLOCK;
    if (pad) await write(ZERO.subarray(0, pad));
  }
  await write(ZERO);
  return written;
}
