import { open } from 'node:fs/promises';

/**
 * Size of each read: a GiB is four thousand reads, and the four buffers (1 MiB) stay in the CPU caches. 1 MiB
 * reads cost verify 3 MiB more peak memory (against its 64 MiB goal) for about 0.1 s less system time per GiB.
 */
const CHUNK = 256 << 10;
/** reads the thread pool runs ahead of the consumer, so reading overlaps hashing */
const AHEAD = 2;

/**
 * A file's bytes as chunks *lent* from a few buffers that are read into again and again: a chunk stays
 * valid until the consumer asks for the chunk after the next one (so a consumer may keep the tail of one
 * chunk while it fetches the next, as the tar reader does), then its memory holds other bytes. Only for
 * consumers that copy what they keep: hashing is one (verify), a write queue is not.
 *
 * Why: reading into a fresh buffer each time costs more than the sha256 of the same bytes (the kernel
 * zeroes and maps new pages, the garbage collector frees them): 1 GiB took 2.3 s of CPU that way against
 * 1.3 s here and 1.1 s for `openssl dgst -sha256` (scripts/bench/import.mjs, `verify ... hashing floor`).
 */
export async function* lendFileChunks(path: string, opts: { chunk?: number; ahead?: number } = {}): AsyncGenerator<Buffer> {
  const size = opts.chunk ?? CHUNK;
  const ahead = opts.ahead ?? AHEAD;
  // the chunk in use, the one before it (still valid) and the reads in flight
  const free: Buffer[] = Array.from({ length: ahead + 2 }, () => Buffer.allocUnsafe(size));
  const lent: Buffer[] = [];
  const inFlight: Array<{ buf: Buffer; at: number; read: Promise<number> }> = [];
  const file = await open(path, 'r');
  let position = 0;
  const issue = () => {
    const buf = free.pop()!;
    const read = file.read(buf, 0, size, position).then((r) => r.bytesRead);
    read.catch(() => {}); // reported when its turn comes
    inFlight.push({ buf, at: position, read });
    position += size;
  };
  try {
    for (let i = 0; i < ahead; i++) issue();
    for (;;) {
      const next = inFlight.shift()!;
      const n = await next.read;
      if (n === 0) return;
      lent.push(next.buf);
      // asking for this chunk ends the loan of the one before the previous
      if (lent.length > 2) free.push(lent.shift()!);
      if (n < size) {
        // a short read (the end of the file, or an interrupted read): what was read ahead starts at the
        // wrong place; read on from where this one ended
        for (const r of inFlight.splice(0)) {
          await r.read.catch(() => {});
          free.push(r.buf);
        }
        position = next.at + n;
      }
      issue();
      yield next.buf.subarray(0, n);
    }
  } finally {
    await Promise.allSettled(inFlight.map((r) => r.read));
    await file.close();
  }
}
