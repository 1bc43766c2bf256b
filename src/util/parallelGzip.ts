import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';
import { promisify } from 'node:util';

const deflateRawAsync = promisify(deflateRaw as (buf: Buffer, opts: ZlibOptions, cb: (err: Error | null, out: Buffer) => void) => void);

/** Input is cut into blocks of this size; fixed, because the output bytes depend on it. */
const BLOCK = 1 << 20;
/** deflate looks back at most 32 KiB: each block is primed with the previous block's last 32 KiB. */
const WINDOW = 32 * 1024;
/**
 * zlib's largest hash table (memLevel 9, 256 KiB of state per stream instead of 128): node's zlib finds
 * matches along shorter hash chains with it, deflating a rootfs 7-20 % faster at level 6 for output under
 * 1 % larger (measured on 200 MiB of the rootfs benchmark's tar: 5.9 against 6.3-7.5 s of CPU, 100.0
 * against 99.1 MiB; `pigz -6` gives 99.7). Fixed, like BLOCK: the output bytes depend on it.
 */
const MEM_LEVEL = 9;
/**
 * The gzip header: no name, no time (mtime 0), XFL 0, OS 3 (Unix), as `gzip -n` writes it. Fixed
 * bytes, so the output depends on the input alone.
 */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);

/**
 * gzip that uses every core, as pigz does: the input is cut into 1 MiB blocks that zlib's thread
 * pool deflates at the same time, each primed with the 32 KiB before it and ended with a sync flush
 * (the last with a final block), so the blocks join into one ordinary single-member gzip stream that
 * any gunzip reads. The output is deterministic: it depends on the input bytes and the level only,
 * not on timing or the number of cores. Single-threaded zlib made `tar -czf` and a plain zlib
 * stream spend most of their time compressing; this takes that off the critical path.
 */
export function parallelGzip(options: { level?: number; inFlight?: number } = {}): Transform {
  const level = options.level ?? 6;
  const maxInFlight = options.inFlight ?? 4;
  // blocks are filled by copying the input into buffers used again once their deflate is done: a writer may
  // reuse a chunk as soon as its write calls back (packDirectory does), and fresh 1 MiB buffers cost the
  // kernel a zeroed mapping each
  const free: Buffer[] = [];
  let current: Buffer = Buffer.allocUnsafe(BLOCK);
  let filled = 0;
  let dictionary: Buffer | undefined;
  let crc = 0;
  let total = 0;
  const queue: Array<Promise<Buffer>> = [];

  const submit = (buffer: Buffer, length: number, last: boolean) => {
    const block = buffer.subarray(0, length);
    crc = crc32(block, crc);
    total += block.length;
    // room for the block's whole output in one piece (deflate's worst case adds a few bytes per 16 KiB): zlib's
    // default 16 KiB pieces cost a thread-pool round trip each, some thirty per block; the bytes are the same
    const chunkSize = block.length + (block.length >> 8) + 1024;
    const opts: ZlibOptions = { level, memLevel: MEM_LEVEL, chunkSize, finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH };
    if (dictionary) opts.dictionary = dictionary;
    const p = deflateRawAsync(block, opts);
    // the buffer is free again once deflated; keep a rejected block from being reported as unhandled before its turn comes
    p.then(() => free.push(buffer), () => {});
    queue.push(p);
    if (block.length >= WINDOW) dictionary = Buffer.from(block.subarray(block.length - WINDOW));
    else dictionary = Buffer.concat([dictionary ?? Buffer.alloc(0), block]).subarray(-WINDOW);
  };

  const take = (chunk: Buffer) => {
    for (let at = 0; at < chunk.length; ) {
      const n = chunk.copy(current, filled, at);
      filled += n;
      at += n;
      if (filled === BLOCK) {
        submit(current, BLOCK, false);
        current = free.pop() ?? Buffer.allocUnsafe(BLOCK);
        filled = 0;
      }
    }
  };

  return new Transform({
    construct(cb) {
      this.push(HEADER);
      cb();
    },
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      take(chunk);
      const drain = async () => {
        while (queue.length >= maxInFlight) this.push(await queue.shift()!);
      };
      drain().then(() => cb(), cb);
    },
    flush(cb: TransformCallback) {
      submit(current, filled, true);
      const finish = async () => {
        while (queue.length) this.push(await queue.shift()!);
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(crc >>> 0, 0);
        trailer.writeUInt32LE(total % 2 ** 32, 4);
        this.push(trailer);
      };
      finish().then(() => cb(), cb);
    },
  });
}
