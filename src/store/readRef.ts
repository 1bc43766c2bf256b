import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoreError } from '../errors.js';
import { SHA256_RE } from '../util/sha256.js';
import { checkStorePath } from './checkStorePath.js';
import type { StoreLayout } from './storeLayout.js';

/** a digest and a newline, with room to spare */
const REF_MAX_BYTES = 1024;

/**
 * A ref file's text, trimmed: never through a link at its name (O_NOFOLLOW: ELOOP is thrown), never a FIFO
 * (opened without waiting, then refused by what it is), and a file larger than any ref is not read (a sparse
 * one of gigabytes in a store someone else wrote): its text is then '', which holds no digest.
 */
export async function readRefText(file: string): Promise<string> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > REF_MAX_BYTES) return '';
    return (await fh.readFile('utf8')).trim();
  } finally {
    await fh.close();
  }
}

/**
 * The digest a NAME/VERSION ref points at, or undefined when there is none. A ref that is a link, or
 * that does not hold a digest, is refused: its content becomes a path (bundles/DIGEST).
 */
export async function readRef(layout: StoreLayout, name: string, version: string): Promise<string | undefined> {
  const file = layout.ref(name, version);
  if (!(await checkStorePath(dirname(file), 'folder'))) return undefined;
  if (!(await checkStorePath(file, 'file'))) return undefined;
  const digest = await readRefText(file);
  if (!SHA256_RE.test(digest)) throw new StoreError(`${file} does not hold a bundle digest; fix or remove that ref`);
  return digest;
}
