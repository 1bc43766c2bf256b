import { createHash } from 'node:crypto';
import { readInWorker } from './readInWorker.js';

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * sha256 and size of a file, read in pieces into one buffer (memory stays flat whatever the size) on a
 * worker thread: several files at once hash on every core (readInWorker).
 */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const { sha256, size } = await readInWorker(path, { sha256: true });
  return { sha256: sha256!, size: size! };
}

export const SHA256_RE = /^[0-9a-f]{64}$/;
