import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MANIFEST_PATH, parseManifest, SIGNATURE_PATH } from './manifest.js';
import { expectNoBytesAfterEnd, readBundleHead } from './readBundleHead.js';
import { writeTar } from './writeTar.js';
import { holdScratch } from '../util/holdScratch.js';
import { fsyncDir } from '../util/fsyncDir.js';
import { PassThrough } from 'node:stream';

/**
 * Rewrite a bundle with another manifest.json.asc (more signatures, or a signature made by gpg on a
 * hardware token). The manifest and every artifact byte stay as they are, so the digest does not change.
 * Written under `.partial`, synced, renamed into place and its folder synced.
 */
export async function replaceSignature(bundlePath: string, signature: string, outPath = bundlePath): Promise<void> {
  const head = await readBundleHead(bundlePath);
  // the new head carries the epoch as its mtime, as the original's did (the readers insist on it)
  const manifest = parseManifest(head.manifestBytes, bundlePath);
  head.expectEpoch(manifest);
  expectNoBytesAfterEnd(bundlePath, head, manifest, (await stat(bundlePath)).size, 'nothing was signed');
  const mtime = new Date(manifest.epoch);
  const tmp = `${outPath}.partial`;
  const release = holdScratch(tmp);
  try {
    const out = createWriteStream(tmp);
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
    await pipeline(createReadStream(bundlePath, { start: head.bodyOffset }), out);
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
