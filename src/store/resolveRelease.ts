import { stat } from 'node:fs/promises';
import { StoreError } from '../errors.js';
import { listReleases, type Release } from './listReleases.js';

/**
 * Find a release by DIGEST (or a unique prefix of at least 8 hex), NAME/VERSION, NAME@VERSION,
 * or NAME alone (the newest by epoch).
 */
export async function resolveRelease(storeDir: string, what: string): Promise<Release> {
  const releases = await listReleases(storeDir);
  if (/^[0-9a-f]{8,64}$/.test(what)) {
    const hits = releases.filter((r) => r.digest.startsWith(what));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw new StoreError(`${what} matches ${hits.length} releases; give more digits`);
  }
  const m = /^([^/@]+)(?:[/@](.+))?$/.exec(what);
  if (m) {
    const [, name, version] = m;
    const hits = releases.filter((r) => r.name === name && (version === undefined || r.version === version));
    if (hits.length > 0) return hits[hits.length - 1]!;
  }
  const known = releases.map((r) => `${r.name}/${r.version}`).join(', ') || 'none';
  try {
    await stat(storeDir);
  } catch {
    throw new StoreError(`store ${storeDir} does not exist: run ferry import first`);
  }
  throw new StoreError(`no release ${what} in store ${storeDir} (releases: ${known})`);
}
