import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { gunzipSync, createGunzip } from 'node:zlib';
import { createRequire } from 'node:module';
import type * as XzDecompress from 'xz-decompress';
import { FerryError, IntegrityError } from '../../errors.js';
import { runTool } from '../../util/runTool.js';

/**
 * The xz decoder, loaded at its first use: most indexes and .debs are gzip, and loading it (its
 * WebAssembly included) costs every `ferry lock` and `build` about 25 ms otherwise. A CommonJS module,
 * so `require` loads it synchronously where a stream is set up.
 */
const xz = (() => {
  let loaded: typeof XzDecompress | undefined;
  return () => (loaded ??= createRequire(import.meta.url)('xz-decompress') as typeof XzDecompress);
})();

/**
 * Decompress a whole buffer: gzip with zlib, xz in-process with the xz-decompress WebAssembly decoder
 * (a process per small control.tar.xz would cost more than the decoding), zstd through Debian's
 * `zstd` tool (Node 20's zlib has none). `kind` is the file extension: "gz", "xz", "zst" or "".
 */
export async function decompress(data: Buffer, kind: string, label: string): Promise<Buffer> {
  switch (kind) {
    case '':
      return data;
    case 'gz':
      try {
        return gunzipSync(data);
      } catch (err) {
        throw new FerryError(`${label}: not valid gzip data (${(err as Error).message})`);
      }
    case 'xz': {
      const chunks: Buffer[] = [];
      for await (const c of decompressStream(Readable.from([data]), 'xz', label)) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    }
    case 'zst':
      return unzstd(data, label);
    default:
      throw new FerryError(`${label}: unsupported compression .${kind} (ferry reads .gz, .xz, .zst and plain files)`);
  }
}

/** Decompress a stream of gzip or xz data (large indexes such as Packages.xz). */
export function decompressStream(input: Readable, kind: 'gz' | 'xz' | '', label: string): Readable {
  if (kind === '') return input;
  if (kind === 'gz') {
    const gunzip = createGunzip();
    input.on('error', (e) => gunzip.destroy(e));
    gunzip.on('error', () => {}); // the consumer sees it through the stream
    return input.pipe(gunzip);
  }
  const web = new (xz().XzReadableStream)(Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>);
  const out = Readable.fromWeb(web as unknown as WebReadableStream<Uint8Array>);
  return out.on('error', (e) => out.destroy(new FerryError(`${label}: not valid xz data (${e.message})`)));
}


/** What a .deb's control.tar may decode to: the bound the worker that reads .debs keeps for gzip and xz (readInWorker). */
const ZSTD_OUTPUT_MAX = 64 << 20;

/**
 * zstd data decoded by Debian's `zstd`, its output read as it comes and the tool stopped once it passes
 * ZSTD_OUTPUT_MAX: a control.tar.zst of a few KiB can decode to gigabytes, which held whole would take
 * the build's memory.
 */
async function unzstd(data: Buffer, label: string): Promise<Buffer> {
  return runTool('zstd', ['-dcq'], {
    doing: label,
    input: data,
    maxOutput: ZSTD_OUTPUT_MAX,
    tooMuchOutput: () => new IntegrityError(`${label}: not valid zstd data (it decodes to more than ${ZSTD_OUTPUT_MAX >> 20} MiB)`),
  });
}
