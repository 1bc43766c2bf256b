import { stat } from 'node:fs/promises';
import { StoreError } from '../errors.js';
import { type DamagedRelease, listReleases, type Release } from './listReleases.js';

/**
 * Find a release by DIGEST (or a unique prefix of at least 8 hex), NAME/VERSION, NAME@VERSION,
 * or NAME alone (the newest by epoch). A damaged release of the store is passed over unless it could
 * be the one asked for (its name, or a digest that fits): then its damage is the error, never an
 * older release of that name in its place.
 */
export async function resolveRelease(storeDir: string, what: string): Promise<Release> {
  const damaged: DamagedRelease[] = [];
  const releases = await listReleases(storeDir, (d) => damaged.push(d));
  const m = /^([^/@]+)(?:[/@](.+))?$/.exec(what);
  const hex = /^[0-9a-f]{8,64}$/.test(what);
  const mayBe = damaged.find((d) => (hex && (d.digest === undefined || d.digest.startsWith(what))) || (m && (d.name === undefined || (d.name === m[1] && (m[2] === undefined || d.version === undefined || d.version === m[2])))));
  if (mayBe) {
    // the damage is the answer: keep its kind (a manifest that breaks the format is exit 68, not a store fault)
    if (mayBe.error) throw mayBe.error;
    throw new StoreError(mayBe.message);
  }
  if (hex) {
    const hits = releases.filter((r) => r.digest.startsWith(what));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw new StoreError(`${what} matches ${hits.length} releases; give more digits`);
  }
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
