import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

export interface WriteFileAtomicOptions {
  /** default 0o644 */
  mode?: number;
  /**
   * fsync the file before it is renamed into place (default). Off only for derived files that can be
   * rebuilt from verified data and check themselves when read (the lock caches, the deb-control cache):
   * a crash may then leave an empty or torn entry at its name, which its reader ignores and rewrites,
   * and the fsync per entry (thousands in a mirror's first build) is saved.
   */
  durable?: boolean;
}

/**
 * Write a file so that readers see either the old or the new content, never a torn one:
 * write a sibling temporary file, fsync it (unless `durable: false`), rename it over the target. `data`
 * may come in parts, written one after the other.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[], { mode = 0o644, durable = true }: WriteFileAtomicOptions = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      if (Array.isArray(data)) for (const part of data) await fh.write(part);
      else await fh.writeFile(data as string | Uint8Array);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
