import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { parallelGzip } from '../../util/parallelGzip.js';
import { startTool } from '../../util/runTool.js';
import { hashGrowingFile } from '../../util/hashGrowingFile.js';
import { writeAllSync } from '../../util/writeAll.js';
import { openPartial, partialPathFor } from '../../util/partialFile.js';

export type Compression = 'gzip' | 'zstd' | 'xz';

export const COMPRESSION_SUFFIX: Record<Compression, string> = { gzip: '.tar.gz', zstd: '.tar.zst', xz: '.tar.xz' };

/** Default levels: gzip's usual 6; zstd 10 and xz 6 trade a slower build for a smaller bundle. */
const DEFAULT_LEVEL: Record<Compression, number> = { gzip: 6, zstd: 10, xz: 6 };
/** the Debian package of each compressor ferry runs */
const DEBIAN_PACKAGE: Record<string, string> = { xz: 'xz-utils', zstd: 'zstd' };

/**
 * Compress what `write` writes (into the stream it is given, which it leaves open) into `dest` and return
 * the compressed file's sha256 and size. A chunk may be used again once its write has called back (the
 * compressor has it by then: packDirectory reuses a few buffers so). The file
 * appears only when complete (written beside it, then renamed). gzip runs in-process over every
 * core (parallelGzip); zstd and xz run Debian's `zstd` and `xz` with settings whose output does not
 * depend on the machine: zstd's multi-threaded format is the same for any number of workers, and
 * xz's is fixed by `-T2` and an explicit block size (xz writes a different format single-threaded).
 */
export async function writeCompressed(
  write: (out: Writable) => Promise<void>,
  dest: string,
  compress: Compression,
  level?: number,
): Promise<{ sha256: string; size: number }> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = partialPathFor(dest);
  const lvl = level ?? DEFAULT_LEVEL[compress];
  let result: { sha256: string; size: number };
  try {
    if (compress === 'gzip') {
      result = await gzipToFile(write, tmp, lvl);
    } else {
      result = await runCompressor(write, tmp, compress, lvl);
    }
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return result;
}

/**
 * parallelGzip's output hashed and written to `file` with plain writes from this thread: the thread pool's
 * few threads are busy deflating, and a file stream's writes queued behind them held back the output,
 * and with it the input (the machine's cores sat idle while the writes waited).
 */
async function gzipToFile(write: (out: Writable) => Promise<void>, file: string, level: number): Promise<{ sha256: string; size: number }> {
  const gzip = parallelGzip({ level });
  const hash = createHash('sha256');
  let size = 0;
  const fd = openSync(file, 'wx', 0o644);
  try {
    const written = (async () => {
      for await (const chunk of gzip as AsyncIterable<Buffer>) {
        hash.update(chunk);
        writeAllSync(fd, [chunk]);
        size += chunk.length;
      }
    })();
    written.catch(() => {}); // awaited below, once the input is in
    try {
      await write(gzip);
      gzip.end();
    } catch (err) {
      // the input failed, or the output did (then this is the write that found it out): `written` says which
      gzip.destroy(err as Error);
    }
    await written;
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), size };
}

/** the variables through which xz and zstd take options before their command line's (XZ_OPT=-e, XZ_DEFAULTS=--check=sha256 change xz's bytes) */
const COMPRESSOR_OPTION_VARS = ['XZ_DEFAULTS', 'XZ_OPT', 'ZSTD_CLEVEL', 'ZSTD_NBTHREADS'];

/** this process's environment without the compressors' option variables: the build's bytes come from the spec's settings only */
function compressorEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !COMPRESSOR_OPTION_VARS.includes(k)));
}

/**
 * zstd or xz, reading the stream on its stdin and writing `file` itself, as `tar -I zstd` has it do: the
 * compressed bytes never pass through this process (each 64 KiB of a pipe was an event-loop round trip,
 * competing with packing the input on the same thread); a thread hashes the file as it grows
 * (hashGrowingFile), so its digest is ready as the compressor ends. A compressor that fails is reported by
 * its own exit, not by the broken pipe it leaves behind.
 */
async function runCompressor(write: (out: Writable) => Promise<void>, file: string, compress: 'zstd' | 'xz', level: number): Promise<{ sha256: string; size: number }> {
  const args = compress === 'zstd' ? ['-q', '-c', '-T0', `-${level}`] : ['-q', '-c', '-T2', '--block-size=16MiB', `-${level}`];
  const out = await openPartial(file);
  const hasher = hashGrowingFile(file);
  try {
    const tool = startTool(compress, args, { debianPackage: DEBIAN_PACKAGE[compress], hint: 'or choose gzip', stdoutFd: out.fd, env: compressorEnv() });
    try {
      await write(tool.stdin);
      tool.stdin.end();
    } catch (err) {
      // the input ends here; a compressor that failed on its own (or never started) broke the pipe, and its
      // exit says why; one that ends well after this end of input leaves the input's own error to report
      tool.stdin.destroy();
      const failed = await tool.exited.then(() => undefined, (e: unknown) => e);
      throw failed ?? err;
    }
    await tool.exited;
    return await hasher.written();
  } finally {
    await hasher.stop();
    await out.close();
  }
}
