import { readFile } from 'node:fs/promises';
import type { StoreLayout } from './storeLayout.js';

/** The digest a NAME/VERSION ref points at, or undefined. */
export async function readRef(layout: StoreLayout, name: string, version: string): Promise<string | undefined> {
  try {
    return (await readFile(layout.ref(name, version), 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
