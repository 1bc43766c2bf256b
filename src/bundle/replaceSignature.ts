import { createWriteStream } from 'node:fs';
import { lstat, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MANIFEST_PATH, parseManifest, SIGNATURE_PATH } from './manifest.js';
import { cannotReadBundle, expectNoBytesAfterEnd, readBundleHead, type BundleHead } from './readBundleHead.js';
import { UsageError } from '../errors.js';
import { takeFileLock } from '../util/fileLock.js';
import { writeTar } from './writeTar.js';
import { holdScratch } from '../util/holdScratch.js';
import { fsyncDir } from '../util/fsyncDir.js';
import { openPartial, partialPathFor, sweepDeadPartials } from '../util/partialFile.js';
import { PassThrough, Readable } from 'node:stream';

/**
 * Rewrite a bundle with another manifest.json.asc (more signatures, or a signature made by gpg on a
 * hardware token). The manifest and every artifact byte stay as they are, so the digest does not change.
 * `signature` is given the bundle's head as it is once the lock is held (its current signatures, to add
 * to). Written under a `.partial` name of its own (util/partialFile.ts), synced, renamed into place and
 * its folder synced.
 *
 * Under BUNDLE.sign-lock (util/fileLock.ts) from the read of the signatures to the rename: two `ferry
 * sign` of one bundle at once took turns reading the same signatures, and the later rename dropped the
 * earlier's signature; and a bundle replaced between the read of its head and of its body was copied
 * with another head's offset. A second sign waits for the first (`waiting` is told once) and then adds
 * to what the first wrote, so both signatures are kept.
 */
export async function replaceSignature(
  bundlePath: string,
  signature: (head: BundleHead) => string | Promise<string>,
  outPath = bundlePath,
  waiting: (holder: number) => void = () => {},
): Promise<void> {
  const lock = `${outPath}.sign-lock`;
  const unlock = await takeFileLock(lock, {
    check: async (path) => {
      const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (st && !st.isFile()) throw new UsageError(`${path} is not a lock ferry sign made (a ${st.isSymbolicLink() ? 'symbolic link' : 'folder or special file'}); nothing was signed: remove it`);
      return st !== undefined;
    },
    busy: (holder, attempt) => {
      if (attempt === 0) waiting(holder);
    },
  });
  const releaseLock = holdScratch(lock);
  try {
    await rewrite(bundlePath, signature, outPath);
  } finally {
    await unlock();
    releaseLock();
  }
}

async function rewrite(bundlePath: string, signatureOf: (head: BundleHead) => string | Promise<string>, outPath: string): Promise<void> {
  // head and body read through one descriptor (chunksOf: a file stream destroyed closes its descriptor): the file a rename put under the name meanwhile is not mixed in
  const src = await open(bundlePath, 'r').catch((err: unknown) => {
    throw cannotReadBundle(bundlePath, err);
  });
  try {
    await rewriteFrom(src, bundlePath, signatureOf, outPath);
  } finally {
    await src.close();
  }
}

async function rewriteFrom(src: FileHandle, bundlePath: string, signatureOf: (head: BundleHead) => string | Promise<string>, outPath: string): Promise<void> {
  const head = await readBundleHead(bundlePath, Readable.from(chunksOf(src, 0, 64 * 1024)));
  // the new head carries the epoch as its mtime, as the original's did (the readers insist on it)
  const manifest = parseManifest(head.manifestBytes, bundlePath);
  head.expectEpoch(manifest);
  expectNoBytesAfterEnd(bundlePath, head, manifest, (await src.stat()).size, 'nothing was signed');
  const signature = await signatureOf(head);
  const mtime = new Date(manifest.epoch);
  await sweepDeadPartials(outPath);
  const tmp = partialPathFor(outPath);
  const release = holdScratch(tmp);
  try {
    const out = createWriteStream('', { fd: await openPartial(tmp) });
    const prefix = new PassThrough();
    const chunks: Buffer[] = [];
    prefix.on('data', (c: Buffer) => chunks.push(c));
    await writeTar(prefix, [
      { path: MANIFEST_PATH, data: head.manifestBytes, size: head.manifestBytes.length },
      { path: SIGNATURE_PATH, data: Buffer.from(signature, 'utf8'), size: Buffer.byteLength(signature) },
    ], mtime);
    // writeTar ends with the end-of-archive marker; drop it, the rest of the original follows
    const headBytes = Buffer.concat(chunks);
    out.write(headBytes.subarray(0, headBytes.length - 1024));
    await pipeline(Readable.from(chunksOf(src, head.bodyOffset, 1 << 20)), out);
    // the new bytes are on the disk before they replace the bundle (often its only copy): a crash after
    // the rename must find the old bundle or the whole new one, never a file the disk had not written yet
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, outPath);
    await fsyncDir(dirname(outPath));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    release();
  }
  await stat(outPath);
}

/** The bytes of `fh` from `start` to its end, in new buffers of up to `size` bytes. */
async function* chunksOf(fh: FileHandle, start: number, size: number): AsyncGenerator<Buffer> {
  for (let pos = start; ; ) {
    const { bytesRead, buffer } = await fh.read(Buffer.allocUnsafe(size), 0, size, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}
