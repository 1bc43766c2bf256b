import { createWriteStream } from 'node:fs';
import { rename, rm, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Duplex, Readable } from 'node:stream';
import { hashingTap } from '../../util/hashingTap.js';
import { pipeline } from 'node:stream/promises';
import { startTool } from '../../util/runTool.js';
import { parallelGzip } from '../../util/parallelGzip.js';

export type Compression = 'gzip' | 'zstd' | 'xz';

export const COMPRESSION_SUFFIX: Record<Compression, string> = { gzip: '.tar.gz', zstd: '.tar.zst', xz: '.tar.xz' };

/** Default levels: gzip's usual 6; zstd 10 and xz 6 trade a slower build for a smaller bundle. */
const DEFAULT_LEVEL: Record<Compression, number> = { gzip: 6, zstd: 10, xz: 6 };
/** the Debian package of each compressor ferry runs */
const DEBIAN_PACKAGE: Record<string, string> = { xz: 'xz-utils', zstd: 'zstd', pigz: 'pigz', gzip: 'gzip' };

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
  const tap = hashingTap();
  const lvl = level ?? DEFAULT_LEVEL[compress];
  try {
    await pipeline(Readable.from(source, { objectMode: false }), compressor(compress, lvl), tap.stream, createWriteStream(tmp));
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return tap.result();
}

function compressor(compress: Compression, level: number): Duplex {
  if (compress === 'gzip') return parallelGzip({ level });
  const args = compress === 'zstd' ? ['-q', '-c', '-T0', `-${level}`] : ['-q', '-c', '-T2', '--block-size=16MiB', `-${level}`];
  return processDuplex(compress, args);
}

/**
 * A child process as a duplex stream: what is written goes to its stdin, its stdout is what is read;
 * back-pressure holds both ways (a full reader pauses stdout, a full stdin delays the writer). The
 * readable side ends only after the process exited 0; any other exit fails the stream with stderr.
 */
function processDuplex(cmd: string, args: string[]): Duplex {
  const child = startTool(cmd, args, { debianPackage: DEBIAN_PACKAGE[cmd], hint: 'or choose gzip' });
  const duplex = new Duplex({
    write(chunk: Buffer, _e, cb) {
      if (child.stdin.write(chunk)) cb();
      else child.stdin.once('drain', () => cb());
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    read() {
      child.stdout.resume();
    },
    destroy(err, cb) {
      child.kill();
      cb(err);
    },
  });
  child.stdout.on('data', (d: Buffer) => {
    if (!duplex.push(d)) child.stdout.pause();
  });
  child.stdout.on('end', () => child.exited.then(() => duplex.push(null), (err) => duplex.destroy(err)));
  child.exited.catch((err) => duplex.destroy(err));
  return duplex;
}
