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
