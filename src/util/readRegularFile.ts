import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export type BoundedRead = { bytes: Buffer; refused?: undefined } | { bytes?: undefined; refused: string };

/**
 * Read a small file that someone else made (an image layout's index.json or manifest blob) without
 * trusting it: only a regular file (a FIFO would block the read forever, /dev/zero never ends), and
 * only up to `max` bytes (a huge file is refused by its size, never read into memory). The open does
 * not block on a FIFO (O_NONBLOCK). Errors of open itself (ENOENT, EACCES) are thrown.
 */
export async function readRegularFile(path: string, max: number): Promise<BoundedRead> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { refused: 'is not a regular file' };
    if (st.size > max) return { refused: `is ${st.size} bytes, larger than ${max} bytes` };
    // one byte more than the limit: a file that grew since the stat is refused too
    const buf = Buffer.alloc(st.size + 1);
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
