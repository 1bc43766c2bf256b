import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pMap from 'p-map';
import { sha256Hex } from '../../util/sha256.js';
import { writeFileAtomic, writeSmallFileAtomicSync } from '../../util/writeFileAtomic.js';
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
  const cached = parseEntry(readSmall(entry));
  if (cached) return cached;
  const { control } = await readDebControl(file);
  // derived from verified bytes: a torn entry after a crash fails to parse and is rewritten, so no fsync
  writeSmallFileAtomicSync(entry, JSON.stringify([...control]));
  return control;
}

/**
 * The entry's text, or undefined when it is missing or unreadable (it is then rewritten). An entry is a
 * few hundred bytes and a mirror's first publish misses one per .deb, thousands: blocking calls cost a few
 * microseconds each, where through the thread pool each was a hand-off to a pool thread and back, and
 * each miss an Error with its stack.
 */
function readSmall(path: string): string | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false }) ? readFileSync(path, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The control paragraphs of a list of .debs known by their sha256 (each the cache's entry for it), in
 * order. The whole list is kept as one entry too, so that publishing the same list again (every refresh
 * of an unchanged mirror) reads one file instead of one per package:
 *
 *   CACHE/deb-control/v1/sets/KEY   (KEY: the sha256 of the digests, one per line; JSON: [paragraph, ...])
 *
 * An entry that does not read back whole, or holds another number of paragraphs, is ignored: each
 * paragraph then comes from readDebControlCached and the entry is written again.
 */
export async function readDebControlsCached(debs: ReadonlyArray<{ file: string; sha256: string }>, cacheDir: string, jobs: number): Promise<Paragraph[]> {
  const entry = join(cacheDir, 'deb-control', 'v1', 'sets', sha256Hex(debs.map((d) => d.sha256).join('\n')));
  const cached = parseSet(await readFile(entry, 'utf8').catch(() => undefined), debs.length);
  if (cached) return cached;
  const controls = await pMap(debs, (d) => readDebControlCached(d.file, d.sha256, cacheDir), { concurrency: jobs });
  // derived like each paragraph's entry: a torn one fails to parse and is rewritten, so no fsync
  await writeFileAtomic(entry, JSON.stringify(controls.map((c) => [...c])), { durable: false });
  return controls;
}

function parseEntry(text: string | undefined): Paragraph | undefined {
  if (text === undefined) return undefined;
  try {
    return toParagraph(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function parseSet(text: string | undefined, count: number): Paragraph[] | undefined {
  if (text === undefined) return undefined;
  try {
    const list: unknown = JSON.parse(text);
    if (!Array.isArray(list) || list.length !== count) return undefined;
    const paragraphs = list.map(toParagraph);
    return paragraphs.every((p) => p !== undefined) ? (paragraphs as Paragraph[]) : undefined;
  } catch {
    return undefined;
  }
}

function toParagraph(pairs: unknown): Paragraph | undefined {
  if (!Array.isArray(pairs) || pairs.length === 0) return undefined;
  if (!pairs.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) return undefined;
  return new Map(pairs as Array<[string, string]>);
}
