import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { IntegrityError } from '../../errors.js';
import { fetchMany, type FetchStats } from '../../fetch/index.js';
import type { BuildContext } from '../kind.js';
import type { AptPackage } from './types.js';

/**
 * The sha256 a lock pins each package by, in order: its index stanza's, or, for a stanza that gives SHA512
 * and no SHA256 (apt-get takes it and verifies the .deb by that), the sha256 of the .deb itself, downloaded
 * into the cache now and taken only when its size and SHA512 are the stanza's. A file that does not match is
 * an IntegrityError (exit 67) and leaves the cache.
 */
export async function pinDebSha256(packages: readonly AptPackage[], ctx: Pick<BuildContext, 'cacheDir' | 'log' | 'jobs'>, stats: FetchStats): Promise<string[]> {
  const unpinned = packages.filter((p) => p.sha256 === '');
  if (unpinned.length === 0) return packages.map((p) => p.sha256);
  ctx.log.info(`apt: ${unpinned.length} package(s) whose index gives SHA512 only: downloading them to pin their sha256`);
  const url = (p: AptPackage) => `${p.origin.uri.replace(/\/+$/, '')}/${p.filename}`;
  const got = await fetchMany(
    unpinned.map((p) => ({ url: url(p), size: p.size, label: `${p.name} ${p.version} (${url(p)})` })),
    { cacheDir: ctx.cacheDir, log: ctx.log, stats, concurrency: ctx.jobs, label: 'downloading (SHA512-only packages)' },
  );
  const pinned = new Map<AptPackage, string>();
  for (const [i, p] of unpinned.entries()) {
    const file = got[i]!;
    const hash = createHash('sha512');
    for await (const chunk of createReadStream(file.path)) hash.update(chunk as Buffer);
    const found = hash.digest('hex');
    if (found !== p.sha512) {
      await rm(file.path, { force: true });
      throw new IntegrityError(`${p.name} ${p.version} (${url(p)}): sha512 ${found}, but the signed index says ${p.sha512}; nothing was pinned or cached`);
    }
    pinned.set(p, file.sha256);
  }
  return packages.map((p) => pinned.get(p) ?? p.sha256);
}
