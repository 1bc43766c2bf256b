import { join } from 'node:path';
import { sha256Hex } from '../util/sha256.js';
import { uniqueName } from '../util/uniqueName.js';

/**
 * The download cache's layout (see docs/fetch.md):
 *   CACHE/sha256/HEX                 complete, verified files, read-only, named by their digest
 *   CACHE/partial/KEY/{data,meta.json}  an interrupted download at rest, resumed by the next attempt
 *   CACHE/partial/KEY~HOST~IDENTITY~RAND/ the same while one process works on it (claimPartial.ts)
 *   CACHE/tmp/                       scratch files (copies from local mirrors) until renamed into place
 *   CACHE/packs/NAME.{ferry,json}    blobs a build wrote only into its bundle: a hard link to the bundle
 *                                    and where each blob is in it (cachePacks.ts), copied out when asked for
 * KEY is the expected sha256 when the request names it, else `url-` + sha256 of the URL.
 * Everything lives on one file system, so finishing a file is a rename.
 */
export function cachedFile(cacheDir: string, sha256: string): string {
  return join(cacheDir, 'sha256', sha256);
}

export function partialKey(req: { url: string; sha256?: string }): string {
  return req.sha256 ?? `url-${sha256Hex(req.url)}`;
}

export function tempFile(cacheDir: string): string {
  return join(cacheDir, 'tmp', uniqueName());
}
