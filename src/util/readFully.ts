import { readSync } from 'node:fs';

/** Fill `buf` from the open file at `position` with blocking reads; false when the file ends first. */
export function readFully(fd: number, buf: Uint8Array, position: number): boolean {
  for (let got = 0; got < buf.length; ) {
    const n = readSync(fd, buf, got, buf.length - got, position + got);
    if (n <= 0) return false;
    got += n;
  }
  return true;
}
