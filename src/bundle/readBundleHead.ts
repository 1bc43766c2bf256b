import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { BundleFormatError, FerryError, UsageError } from '../errors.js';
import { expectEpochMtime, TarReader, TRAILING_ZEROS_MAX, writtenSize } from './readTar.js';
import { MANIFEST_MAX_BYTES, MANIFEST_PATH, SIGNATURE_MAX_BYTES, SIGNATURE_PATH, type Manifest } from './manifest.js';

export interface BundleHead {
  manifestBytes: Buffer;
  signature: string;
  /** byte offset of the first artifact entry (right after the signature entry) */
  bodyOffset: number;
  /**
   * Once the manifest is parsed: its epoch must be the mtime the two headers carry, as ferry's writer
   * gives every entry (left to the caller, who parses the manifest when it is ready to: after a signature
   * check, for one); a BundleFormatError otherwise.
   */
  expectEpoch(manifest: { epoch: string }): void;
}

/** Read manifest.json and manifest.json.asc from the start of a bundle (its file, or a stream of it), without verifying anything. */
export async function readBundleHead(path: string, stream: Readable = createReadStream(path, { highWaterMark: 64 * 1024 })): Promise<BundleHead> {
  const tar = new TarReader(stream, path);
  try {
    const m = await tar.next();
    if (!m || m.path !== MANIFEST_PATH || m.type !== 'File' || m.size > MANIFEST_MAX_BYTES) throw new BundleFormatError(`${path}: not a ferry bundle (the first entry must be ${MANIFEST_PATH})`);
    const manifestBytes = await tar.readBody(m.size);
    const s = await tar.next();
    if (!s || s.path !== SIGNATURE_PATH || s.type !== 'File' || s.size > SIGNATURE_MAX_BYTES) throw new BundleFormatError(`${path}: unsigned: the second entry must be ${SIGNATURE_PATH}`);
    const signature = (await tar.readBody(s.size)).toString('utf8');
    return { manifestBytes, signature, bodyOffset: tar.offset, expectEpoch: (manifest) => expectEpochMtime(tar, manifest) };
  } catch (err) {
    throw cannotReadBundle(path, err);
  } finally {
    stream.destroy();
  }
}

/**
 * A system error reading a bundle file (ENOENT, EACCES; EIO from damaged media) as `cannot read bundle PATH
 * (CODE)` (exit 64, as openBundleSource says of a path stat cannot see), not as a bug in ferry; anything else as it is.
 */
export function cannotReadBundle(path: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && !(err instanceof FerryError) ? new UsageError(`cannot read bundle ${path} (${code})`, { cause: err }) : err;
}

/**
 * Refuse (68, `nothing` saying what was not done) a bundle file of `size` bytes longer than ferry's writer makes
 * for its manifest plus the zeros a tar writer pads with: every reader refuses it, and a command that copies the
 * file (split, sign) would write those bytes out: a hole of terabytes takes no disk space, its copy all of it.
 */
export function expectNoBytesAfterEnd(path: string, head: BundleHead, manifest: Manifest, size: number, nothing: string): void {
  const written = writtenSize(manifest, head.bodyOffset);
  if (written !== undefined && size > written + TRAILING_ZEROS_MAX) {
    throw new BundleFormatError(
      `${path}: ${size} bytes, but the bundle its manifest lists ends at byte ${written} (a tar writer pads with at most ${TRAILING_ZEROS_MAX} bytes of zeros after it): the bundle was changed after it was written; ${nothing}`,
    );
  }
}
