import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { isFile } from '../util/isFile.js';
import { lendFileChunks } from '../util/lendFileChunks.js';
import { IntegrityError, StoreError, UsageError } from '../errors.js';
import { readBundle, type ReadBundleOptions, type ReadBundleResult } from './readBundle.js';
import { cannotReadBundle } from './readBundleHead.js';
import { INDEX_SUFFIX, readSplitIndex, type SplitIndex } from './splitIndex.js';
import { MANIFEST_MAX_BYTES, SIGNATURE_MAX_BYTES } from './manifest.js';
import { TRAILING_ZEROS_MAX } from './readTar.js';

/**
 * Where a bundle's bytes come from: one .ferry file, standard input, or the volumes of a split bundle
 * reassembled as one stream. Callers read it once with `read`, and call `finalCheck` before they make
 * anything visible: for volumes, that is when the last volume's sha256 and the whole bundle's are known.
 */
export interface BundleSource {
  label: string;
  stream: Readable;
  /** volumes of a split bundle, when it is one */
  volumes?: number;
  /** readBundle over the stream; an error raised while a volume was being read names that volume when it is damaged */
  read(opts: Omit<ReadBundleOptions, 'label'>): Promise<ReadBundleResult>;
  /** read what is left and check the remaining checksums (split: last volume, whole bundle, index digest) */
  finalCheck(digest: string): Promise<void>;
  /** give the source up unread (a refusal before or instead of `read`): its stream, if one was opened, is destroyed */
  close(): void;
}

/**
 * Size of each read from a bundle file. Every read fills a new buffer (the chunk is handed on to hashing
 * and the store's writes); at 4 MiB each one is a fresh mapping the kernel zeroes and unmaps again, which
 * cost more CPU than the sha256 itself. 512 KiB reads reuse the allocator's memory: about 40 % less CPU
 * for the same bytes (scripts/bench/import.mjs, `verify ... hashing floor`).
 */
const READ_SIZE = 512 << 10;

/** the most bytes a bundle's head (manifest.json and manifest.json.asc, each with its header) takes */
const HEAD_MAX_BYTES = MANIFEST_MAX_BYTES + SIGNATURE_MAX_BYTES + 2 * 512;

/** A .ferry file, "-" for standard input, a split index (NAME.ferry.index.json) or the first volume (NAME.ferry.001). */
export async function openBundleSource(path: string): Promise<BundleSource> {
  if (path === '-') return plainSource(process.stdin, 'stdin');
  if (path.endsWith(INDEX_SUFFIX)) return splitSource(path, await readSplitIndex(path));
  const vol = /^(.*\.ferry)\.(\d{3,})$/.exec(path);
  if (vol) {
    const indexPath = `${vol[1]}${INDEX_SUFFIX}`;
    if (!(await isFile(indexPath))) {
      throw new UsageError(`${path} looks like a volume of a split bundle, but its index ${basename(indexPath)} is not next to it: the index carries every volume's checksum; copy it with the volumes`);
    }
    const index = await readSplitIndex(indexPath);
    if (index.volumes[0]!.file !== basename(path)) {
      throw new UsageError(`${path} is not the first volume of ${index.bundle}: pass ${index.volumes[0]!.file} or ${basename(indexPath)}`);
    }
    return splitSource(indexPath, index);
  }
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new UsageError(`${path} is not a file`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // only the volumes and their index were copied (build --split writes no whole bundle)
    if (code === 'ENOENT' && (await isFile(`${path}${INDEX_SUFFIX}`))) {
      throw new UsageError(`${path} is not there, but its split index ${basename(path)}${INDEX_SUFFIX} is: pass the index (the volumes are read from next to it)`);
    }
    throw new UsageError(`cannot read bundle ${path} (${code})`);
  }
  return fileSource(path);
}

/**
 * A bundle file. `read` borrows its chunks from a few buffers read into again and again
 * (lendFileChunks), for verify and import alike: an entry sink copies what it keeps (see ReadBundleOptions'
 * openEntry). `stream` (for reading the head alone) is opened only when asked for.
 */
function fileSource(path: string): BundleSource {
  let stream: Readable | undefined;
  return {
    label: path,
    get stream() {
      return (stream ??= createReadStream(path, { highWaterMark: READ_SIZE }));
    },
    async read(opts) {
      const chunks = fileChunks(path);
      try {
        return await readBundle(chunks, { ...opts, label: path });
      } finally {
        await chunks.return(undefined);
      }
    },
    async finalCheck() {},
    close: () => void stream?.destroy(),
  };
}

/**
 * The chunks of a bundle file (lent, as lendFileChunks lends them). A file that cannot be opened or read
 * (EACCES; EIO from damaged media) is refused as one stat cannot see is (openBundleSource), not reported
 * as a bug in ferry; errors of the entry sinks (the store's disk) are theirs, not turned into this.
 */
async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  const chunks = lendFileChunks(path);
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (err) {
        throw cannotReadBundle(path, err);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await chunks.return(undefined);
  }
}

function plainSource(stream: Readable, label: string): BundleSource {
  return {
    label,
    stream,
    read: (opts) => readBundle(stream, { ...opts, label }),
    async finalCheck() {},
    close: () => void stream.destroy(),
  };
}

async function splitSource(indexPath: string, index: SplitIndex): Promise<BundleSource> {
  const dir = dirname(indexPath);
  const count = index.volumes.length;
  const label = `${index.bundle} (${count} volume${count === 1 ? '' : 's'})`;
  const name = (i: number) => `volume ${i + 1} of ${count} (${index.volumes[i]!.file})`;

  // every volume present and of the right size before a single byte is used: a missing or short volume
  // is named at once, not after gigabytes were read
  for (const [i, v] of index.volumes.entries()) {
    let size: number;
    try {
      size = (await stat(join(dir, v.file))).size;
    } catch {
      throw new IntegrityError(`${name(i)} is missing from ${dir}: copy every volume listed in ${basename(indexPath)}`);
    }
    if (size !== v.size) throw new IntegrityError(`${name(i)} is ${size} bytes, the index says ${v.size}: ${size < v.size ? 'an incomplete copy' : 'not the volume the index lists'}; copy it again`);
  }

  const state = { volume: 0, stopAfter: Infinity, error: undefined as IntegrityError | undefined, complete: false, size: 0, sha256: '' };
  /** where each volume ends in the reassembled bundle */
  const ends: number[] = [];
  for (const v of index.volumes) ends.push((ends.at(-1) ?? 0) + v.size);
  /**
   * How far a volume may end for a failure inside it to be followed by reading it to its end (to name it when
   * its sha256 is wrong): before the signature is checked, as far as a bundle's head can reach; after, the
   * whole bundle, once the index was found to hold no more than its signed manifest makes. The index and its
   * volumes are unsigned: a volume of terabytes of holes (no disk space, no key needed) kept verify and
   * import reading zeros for hours after the reader had refused what it found.
   */
  let followable = HEAD_MAX_BYTES;
  const whole = createHash('sha256');

  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (; state.volume < count; state.volume++) {
        const i = state.volume;
        const v = index.volumes[i]!;
        const hash = createHash('sha256');
        let n = 0;
        // the bytes are handed on before the volume's sha256 is known (no temporary copy): nothing
        // becomes visible until finalCheck, and a bundle error inside a damaged volume is blamed on it
        for await (const chunk of createReadStream(join(dir, v.file), { highWaterMark: READ_SIZE }) as AsyncIterable<Buffer>) {
          hash.update(chunk);
          whole.update(chunk);
          n += chunk.length;
          if (n > v.size) break;
          yield chunk;
        }
        const got = hash.digest('hex');
        if (n !== v.size) throw new IntegrityError(`${name(i)} is ${n} bytes, the index says ${v.size}: it changed while being read`);
        if (got !== v.sha256) {
          const other = index.volumes.findIndex((o) => o.sha256 === got);
          const hint =
            other >= 0
              ? `: it holds the content of ${name(other)}; the volumes were renamed or copied out of order`
              : ': the volume is corrupt; copy it again from the original media';
          throw new IntegrityError(`${name(i)}: sha256 ${got}, expected ${v.sha256}${hint}`);
        }
        if (i >= state.stopAfter) return;
      }
      state.size = index.size;
      state.sha256 = whole.digest('hex');
      state.complete = true;
    } catch (err) {
      state.error = err instanceof IntegrityError ? err : new IntegrityError(`${name(state.volume)}: cannot be read (${(err as Error).message})`);
      throw state.error;
    }
  }
  const gen = chunks();
  const stream = Readable.from(gen, { objectMode: false, highWaterMark: 1 << 20 });

  /** run the generator to the end (or to the end of the current volume), collecting its verdict */
  async function drain(): Promise<void> {
    for (;;) {
      try {
        if ((await gen.next()).done) return;
      } catch {
        return; // recorded in state.error
      }
    }
  }

  return {
    label,
    stream,
    volumes: count,
    async read(opts) {
      const onHead: typeof opts.onHead = (head) => {
        const most = head.writtenBytes === undefined ? undefined : head.writtenBytes + TRAILING_ZEROS_MAX;
        if (most !== undefined && index.size > most) {
          throw new IntegrityError(
            `${label}: the volumes hold ${index.size} bytes, but the bundle its signed manifest lists is ${head.writtenBytes} bytes (with at most ${TRAILING_ZEROS_MAX} bytes of a writer's zeros after it): the index and volumes do not belong to this bundle`,
          );
        }
        if (most !== undefined) followable = index.size;
        return opts.onHead?.(head);
      };
      try {
        return await readBundle(stream, { ...opts, label, onHead });
      } catch (err) {
        if (err instanceof StoreError || err instanceof UsageError) throw err;
        // the damage is in bytes already read: earlier volumes checked out, so it is in the current
        // one; finish reading it to know, and name it if its sha256 is wrong
        if (!state.error && !state.complete && ends[state.volume]! <= followable) {
          state.stopAfter = state.volume;
          await drain();
        }
        throw state.error ?? err;
      }
    },
    async finalCheck(digest) {
      // the tar reader stops at the end-of-archive marker; the rest of the last volume still counts
      await drain();
      stream.destroy();
      if (state.error) throw state.error;
      if (!state.complete) throw new IntegrityError(`${label}: the volumes were not read to the end`);
      if (state.sha256 !== index.sha256) {
        throw new IntegrityError(`${label}: the reassembled bundle has sha256 ${state.sha256}, the index says ${index.sha256}: the index does not belong to these volumes`);
      }
      if (digest !== index.digest) throw new IntegrityError(`${label}: the reassembled bundle is ${digest}, the index says ${index.digest}: the index does not belong to these volumes`);
    },
    close: () => void stream.destroy(),
  };
}
