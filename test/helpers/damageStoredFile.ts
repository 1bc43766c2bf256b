import { chmod, readFile, writeFile } from 'node:fs/promises';

/** A file of the store (a blob, read-only) changed on disk behind ferry's back: one byte at `at` flipped in place. Returns what it holds now. */
export async function flipStoredByte(file: string, at: number): Promise<Buffer> {
  const bytes = await readFile(file);
  bytes[at] ^= 1;
  await chmod(file, 0o644);
  await writeFile(file, bytes);
  await chmod(file, 0o444);
  return bytes;
}
