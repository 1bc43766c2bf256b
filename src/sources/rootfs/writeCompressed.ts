import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hashingTap } from '../../util/hashingTap.js';
import { parallelGzip } from '../../util/parallelGzip.js';
import { startTool } from '../../util/runTool.js';
import { sha256File } from '../../util/sha256.js';

export type Compression = 'gzip' | 'zstd' | 'xz';

export const COMPRESSION_SUFFIX: Record<Compression, string> = { gzip: '.tar.gz', zstd: '.tar.zst', xz: '.tar.xz' };

/** Default levels: gzip's usual 6; zstd 10 and xz 6 trade a slower build for a smaller bundle. */
const DEFAULT_LEVEL: Record<Compression, number> = { gzip: 6, zstd: 10, xz: 6 };
/** the Debian package of each compressor ferry runs */
const DEBIAN_PACKAGE: Record<string, string> = { xz: 'xz-utils', zstd: 'zstd' };

/**
 * Compress a byte stream into `dest` and return the compressed file's sha256 and size. The file
 * appears only when complete (written beside it, then renamed). gzip runs in-process over every
 * core (parallelGzip); zstd and xz run Debian's `zstd` and `xz` with settings whose output does not
 * depend on the machine: zstd's multi-threaded format is the same for any number of workers, and
 * xz's is fixed by `-T2` and an explicit block size (xz writes a different format single-threaded).
 */
export async function writeCompressed(
  source: AsyncIterable<Buffer>,
  dest: string,
  compress: Compression,
  level?: number,
): Promise<{ sha256: string; size: number }> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.partial`;
  const lvl = level ?? DEFAULT_LEVEL[compress];
  let result: { sha256: string; size: number };
  try {
    if (compress === 'gzip') {
      const tap = hashingTap();
      await pipeline(Readable.from(source, { objectMode: false }), parallelGzip({ level: lvl }), tap.stream, createWriteStream(tmp));
      result = tap.result();
    } else {
      await runCompressor(source, tmp, compress, lvl);
      result = await sha256File(tmp);
    }
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return result;
}

/**
 * zstd or xz, reading the stream on its stdin and writing `file` itself, as `tar -I zstd` has it do: the
 * compressed bytes never pass through this process (each 64 KiB of a pipe was an event-loop round trip,
 * competing with packing the input on the same thread); the file is hashed once written. A compressor
 * that fails is reported by its own exit, not by the broken pipe it leaves behind.
 */
async function runCompressor(source: AsyncIterable<Buffer>, file: string, compress: 'zstd' | 'xz', level: number): Promise<void> {
  const args = compress === 'zstd' ? ['-q', '-c', '-T0', `-${level}`] : ['-q', '-c', '-T2', '--block-size=16MiB', `-${level}`];
  const out = await open(file, 'w');
  try {
    const tool = startTool(compress, args, { debianPackage: DEBIAN_PACKAGE[compress], hint: 'or choose gzip', stdoutFd: out.fd });
    // an error the source itself raised, told from the one the stream injects when stdin goes away
    let sourceFailed = false;
    const watched = async function* () {
      const it = source[Symbol.asyncIterator]();
      try {
        for (;;) {
          let r: IteratorResult<Buffer>;
          try {
            r = await it.next();
          } catch (err) {
            sourceFailed = true;
            throw err;
          }
          if (r.done) return;
          yield r.value;
        }
      } finally {
        await it.return?.();
      }
    };
    try {
      await pipeline(Readable.from(watched(), { objectMode: false }), tool.stdin);
    } catch (err) {
      // the input failed: stop the compressor; else the compressor went away (not installed, failed): its exit says why
      if (sourceFailed) tool.kill();
      const failed = await tool.exited.then(() => undefined, (e: unknown) => e);
      throw !sourceFailed && failed ? failed : err;
    }
    await tool.exited;
  } finally {
    await out.close();
  }
}
