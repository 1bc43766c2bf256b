import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoreError } from '../errors.js';
import { SHA256_RE } from '../util/sha256.js';
import { checkStorePath } from './checkStorePath.js';
import type { StoreLayout } from './storeLayout.js';

/**
 * The digest a NAME/VERSION ref points at, or undefined when there is none. A ref that is a link, or
 * that does not hold a digest, is refused: its content becomes a path (bundles/DIGEST).
 */
export async function readRef(layout: StoreLayout, name: string, version: string): Promise<string | undefined> {
  const file = layout.ref(name, version);
  if (!(await checkStorePath(dirname(file), 'folder')) || !(await checkStorePath(file, 'file'))) return undefined;
  const digest = (await readFile(file, 'utf8')).trim();
  if (!SHA256_RE.test(digest)) throw new StoreError(`${file} does not hold a bundle digest; fix or remove that ref`);
  return digest;
}
