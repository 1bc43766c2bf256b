import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/writeFileAtomic.js';
import type { Paragraph } from './parseControl.js';
import { readDebControl } from './readDebControl.js';

/**
 * The control paragraph of a .deb known by its sha256, kept in the download cache so that publishing the
 * same .deb again (every refresh of a mirror or an apt section) does not open and decompress it again:
 *
 *   CACHE/deb-control/v1/SHA256   (the paragraph as JSON: [[field, value], ...])
 *
 * Only for a file that IS the cache's entry for that digest (fetched and checked against it), so the
 * entry describes exactly those bytes. An entry that does not read back as a paragraph is ignored and
 * rewritten from the .deb. The caller checks the paragraph's names as it would the .deb's own.
 */
export async function readDebControlCached(file: string, sha256: string, cacheDir: string): Promise<Paragraph> {
  const entry = join(cacheDir, 'deb-control', 'v1', sha256);
  const cached = parseEntry(await readFile(entry, 'utf8').catch(() => undefined));
  if (cached) return cached;
  const { control } = await readDebControl(file);
  // derived from verified bytes: a torn entry after a crash fails to parse and is rewritten, so no fsync
  await writeFileAtomic(entry, JSON.stringify([...control]), { durable: false });
  return control;
}

function parseEntry(text: string | undefined): Paragraph | undefined {
  if (text === undefined) return undefined;
  try {
    const pairs: unknown = JSON.parse(text);
    if (!Array.isArray(pairs) || pairs.length === 0) return undefined;
    if (!pairs.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) return undefined;
    return new Map(pairs as Array<[string, string]>);
  } catch {
    return undefined;
  }
}
