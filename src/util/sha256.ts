import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { readInWorker } from './readInWorker.js';

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Files up to this size are hashed on the calling thread: starting the worker threads costs more (0.1 s and up). */
const INLINE_MAX = 64 << 10;

/**
 * sha256 and size of a file, read in pieces into one buffer (memory stays flat whatever the size) on a
 * worker thread: several files at once hash on every core (readInWorker). A small file is read and hashed
 * here instead.
 */
export async function sha256File(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  if ((await stat(path)).size <= INLINE_MAX) {
    const data = await readFile(path);
    // read whole: a file that grew meanwhile is hashed as it is now, as a worker would
    if (data.length <= INLINE_MAX) return { sha256: sha256Hex(data), size: data.length };
  }
  const { sha256, size } = await readInWorker(path, { sha256: true }, signal);
  return { sha256: sha256!, size: size! };
}

export const SHA256_RE = /^[0-9a-f]{64}$/;
