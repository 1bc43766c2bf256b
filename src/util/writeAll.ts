import { writeSync, writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** Write every byte of `bufs` at the file's current position (a short write goes on with the rest). */
export async function writeAll(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  let { bytesWritten } = await fh.writev(bufs);
  if (bytesWritten === bufs.reduce((n, b) => n + b.length, 0)) return;
  const rest = Buffer.concat(bufs).subarray(bytesWritten);
  for (let at = 0; at < rest.length; at += bytesWritten) {
    ({ bytesWritten } = await fh.write(rest, at, rest.length - at));
  }
}

/** Write every byte of `bufs` at `position` of the file (positional: the file's own position is not used). */
export async function writeAllAt(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let { bytesWritten } = await fh.writev(bufs, position);
  const total = bufs.reduce((n, b) => n + b.length, 0);
  if (bytesWritten === total) return;
  const rest = Buffer.concat(bufs);
  for (let at = bytesWritten; at < total; at += bytesWritten) {
    ({ bytesWritten } = await fh.write(rest, at, total - at, position + at));
  }
}

/** writeAll with blocking calls, for a descriptor: every byte of `bufs` in one writev unless it comes up short. */
export function writeAllSync(fd: number, bufs: readonly Uint8Array[]): void {
  const written = writevSync(fd, bufs as Uint8Array[]);
  const total = bufs.reduce((n, b) => n + b.length, 0);
  if (written === total) return;
  const rest = Buffer.concat(bufs).subarray(written);
  for (let at = 0; at < rest.length; ) at += writeSync(fd, rest, at);
}
