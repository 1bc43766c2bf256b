import { open } from 'node:fs/promises';

/** fsync a folder: makes the creation, rename or removal of its entries durable (files' own data needs their own sync). */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
