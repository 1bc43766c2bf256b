import { stat } from 'node:fs/promises';
import { StoreError, UsageError } from '../errors.js';
import { type DamagedRelease, listReleases, type Release } from './listReleases.js';

/** A bundle digest, or a prefix of one long enough to name a release: 8 to 64 lowercase hex digits. */
const DIGEST_PREFIX = /^[0-9a-f]{8,64}$/;

/** A damaged release that could be the one asked for: its damage is the answer, never another release in its place. */
function refuseDamaged(damaged: DamagedRelease[], mayBe: (d: DamagedRelease) => boolean): void {
  const hit = damaged.find(mayBe);
  if (!hit) return;
  // keep its kind (a manifest that breaks the format is exit 68, not a store fault)
  if (hit.error) throw hit.error;
  throw new StoreError(hit.message);
}

/**
 * Find a release by DIGEST (or a unique prefix of at least 8 hex), NAME/VERSION, NAME@VERSION,
 * or NAME alone (the newest by epoch). A NAME of hex digits that also starts the digest of a release of
 * another name is refused as ambiguous. A damaged release of the store is passed over unless it could
 * be the one asked for (its name, or a digest that fits): then its damage is the error, never an
 * older release of that name in its place.
 */
export async function resolveRelease(storeDir: string, what: string): Promise<Release> {
  const damaged: DamagedRelease[] = [];
  const releases = await listReleases(storeDir, (d) => damaged.push(d));
  const m = /^([^/@]+)(?:[/@](.+))?$/.exec(what);
  const hex = DIGEST_PREFIX.test(what);
  refuseDamaged(damaged, (d) => (hex && (d.digest === undefined || d.digest.startsWith(what))) || Boolean(m && (d.name === undefined || (d.name === m[1] && (m[2] === undefined || d.version === undefined || d.version === m[2])))));
  if (hex) {
    const hits = releases.filter((r) => r.digest.startsWith(what));
    // a name of 8+ hex digits is also a digest prefix: a release of another name (its signer trusted for that
    // name only) whose digest starts with it would otherwise be taken for NAME
    const named = releases.some((r) => r.name === what) ? hits.find((r) => r.name !== what) : undefined;
    if (named) throw new StoreError(`${what} is the release name ${what} and the start of the digest of ${named.name} ${named.version} (${named.digest}): give NAME@VERSION or more digits of the digest`);
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

/**
 * A release of NAME named by an option (`ferry rollback NAME --to X`): a VERSION of NAME, or a bundle
 * digest by the rule resolveRelease follows (a prefix of 8+ hex digits that no other release of the store
 * shares). Anything else (a version NAME does not have, a shorter or ambiguous prefix, another release's
 * digest) is a usage error naming the option, never the nearest match.
 */
export async function resolveVersionOf(storeDir: string, name: string, what: string, flag: string): Promise<Release> {
  const damaged: DamagedRelease[] = [];
  const releases = await listReleases(storeDir, (d) => damaged.push(d));
  const hex = DIGEST_PREFIX.test(what);
  refuseDamaged(damaged, (d) => d.name === undefined || (d.name === name && (d.version === undefined || d.version === what)) || (hex && (d.digest === undefined || d.digest.startsWith(what))));
  const ofName = releases.filter((r) => r.name === name);
  if (ofName.length === 0) throw new StoreError(`the store ${storeDir} holds no release named ${name}`);
  const byVersion = ofName.find((r) => r.version === what);
  if (byVersion) return byVersion;
  if (hex) {
    const hits = releases.filter((r) => r.digest.startsWith(what));
    if (hits.length > 1) throw new UsageError(`${flag} ${what}: ${hits.length} release digests start with it (${hits.map((r) => `${r.name} ${r.version}`).join(', ')}); give more digits`);
    if (hits.length === 1 && hits[0]!.name !== name) throw new UsageError(`${flag} ${what}: that digest is ${hits[0]!.name} ${hits[0]!.version}, not a release of ${name}`);
    if (hits.length === 1) return hits[0]!;
  }
  const versions = ofName.map((r) => r.version).reverse();
  const listed = versions.length > 8 ? `${versions.slice(0, 8).join(', ')} and ${versions.length - 8} older` : versions.join(', ');
  throw new UsageError(
    `${flag} ${what}: ${name} has no version ${what}${hex ? ' and no release digest starts with it' : ''}; give a version (the store holds ${listed}) or 8 or more hex digits of a digest`,
  );
}
