import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** the refusal of a file that is not a regular file (a FIFO, a device, a folder) */
export const NOT_REGULAR = 'is not a regular file';

/**
 * Open a file someone else made for reading, only when it is a regular file: the open does not block on
 * a FIFO (O_NONBLOCK; a read of one would block forever), and a FIFO or a device (/dev/zero never ends)
 * is refused by what it is, closed again. Errors of open itself (ENOENT, EACCES) are thrown. The caller
 * closes the handle it gets.
 */
export async function openRegularFile(path: string): Promise<{ fh: FileHandle; size: number } | { refused: string }> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (st.isFile()) return { fh, size: st.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
  await fh.close();
  return { refused: NOT_REGULAR };
}

/** `tooLarge`: the size the file had when opened, when that alone refused it */
export type BoundedRead = { bytes: Buffer; refused?: undefined } | { bytes?: undefined; refused: string; tooLarge?: number };

/**
 * Read a small file that someone else made (an image layout's index.json or manifest blob) without
 * trusting it: only a regular file (openRegularFile), and only up to `max` bytes (a huge file is refused
 * by its size, never read into memory). Errors of open itself (ENOENT, EACCES) are thrown.
 */
export async function readRegularFile(path: string, max: number): Promise<BoundedRead> {
  const opened = await openRegularFile(path);
  if ('refused' in opened) return opened;
  const { fh, size } = opened;
  try {
    if (size > max) return { refused: `is ${size} bytes, larger than ${max} bytes`, tooLarge: size };
    // one byte more than the limit: a file that grew since the stat is refused too
    const buf = Buffer.alloc(size + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > max) return { refused: `is larger than ${max} bytes` };
      if (got === buf.length) return { refused: 'grew while it was read' };
    }
    return { bytes: buf.subarray(0, got) };
  } finally {
    await fh.close();
  }
}
