import { open } from 'node:fs/promises';
import { BundleFormatError } from '../../errors.js';

export type TarCompression = 'gzip' | 'zstd' | 'xz' | 'none';

export const TAR_SUFFIX: Record<TarCompression, string> = { gzip: '.tar.gz', zstd: '.tar.zst', xz: '.tar.xz', none: '.tar' };

/** The compression of a tarball, read from its first bytes (names lie; magic numbers do not). */
export async function detectCompression(file: string, label: string): Promise<TarCompression> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(512);
  try {
    await fh.read(head, 0, 512, 0);
  } finally {
    await fh.close();
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.subarray(257, 262).toString('latin1') === 'ustar') return 'none';
  throw new BundleFormatError(`${label} is not a tar archive compressed with gzip, zstd or xz (nor a plain tar); give a rootfs tarball`);
}
