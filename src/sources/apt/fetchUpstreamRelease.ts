import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as openpgp from 'openpgp';
import { fetchBytes, type FetchStats } from '../../fetch/index.js';
import { FetchError, ResolveError, SignatureError } from '../../errors.js';
import { verifyCleartext, verifyDetached } from '../../pgp/verify.js';
import { sha256Hex } from '../../util/sha256.js';
import { writeFileAtomic } from '../../util/writeFileAtomic.js';
import { field, parseControl } from './parseControl.js';
import { parseReleaseDate } from './parseReleaseDate.js';
import { checkClearsignedLayout, checkDetachedLayout } from './checkSignedLayout.js';

export interface UpstreamRelease {
  /** URL of dists/SUITE/ ending in "/" (of URI/SUITE for a flat repository) */
  distUrl: string;
  /** a flat repository (`deb URI ./`: a suite ending in "/"), whose one Packages index sits beside its Release */
  flat: boolean;
  /**
   * files the signed Release lists with SHA256 or SHA512, by path relative to dists/SUITE/: its SHA256 (none
   * when only SHA512 lists it), the size of its strongest hash list (SHA512 when it has one, as apt takes
   * it), and its digests in the other lists (SHA512, SHA1, MD5Sum), which apt checks too
   */
  files: Map<string, { sha256: string | undefined; size: number; others: Array<{ algorithm: OtherHash; digest: string }> }>;
  /** the fields of the Release paragraph */
  fields: Map<string, string>;
  signers: string[];
  /** sha256 of the verified Release text: every index the suite has is named by it (mirrorLockCache.ts) */
  sha256: string;
  /** read from the cache's copy of the signed file (verified again), not fetched now */
  cached?: boolean;
}

/**
 * Fetch and verify dists/SUITE/InRelease (or Release + Release.gpg when the upstream has no
 * InRelease) against `keys`. Refuses a bad or unknown signature, a signed file with text outside its
 * signed parts (checkSignedLayout.ts, as apt does), a Release without SHA256 or SHA512 sums, and
 * a Release whose Valid-Until has passed (a replayed old index could hide security updates) or cannot be
 * read, or whose Date is in the future (checkReleaseDates). With `cacheDir`, the signed file is kept as
 * CACHE/apt-release/v1/SHA256("URI SUITE"); with `preferCached` too, that copy is verified and read instead
 * of fetching (ferry build --locked: checkLockedInIndexes), and fetched again when it does not verify now.
 */
export async function fetchUpstreamRelease(
  uri: string,
  suite: string,
  keys: openpgp.PublicKey[],
  stats?: FetchStats,
  opts: { checkValidUntil?: boolean; now?: Date; cacheDir?: string; preferCached?: boolean } = {},
): Promise<UpstreamRelease> {
  const { flat, distUrl } = suiteLocation(uri, suite);
  const entry = opts.cacheDir === undefined ? undefined : join(opts.cacheDir, 'apt-release', 'v1', sha256Hex(`${uri} ${suite}`));
  if (entry !== undefined && opts.preferCached) {
    // the signed file this machine last verified for this suite, verified again now (keys, layout, dates):
    // a build from a warm cache asks the upstream nothing; one that does not verify any more is fetched again
    const kept = await readFile(entry, 'utf8').then((t) => JSON.parse(t) as SignedRelease, () => undefined);
    if (kept !== undefined) {
      try {
        return { ...(await readSignedRelease(kept, distUrl, flat, keys, opts)), cached: true };
      } catch {
        // fetched below
      }
    }
  }
  const signed = await fetchSignedRelease(distUrl, stats);
  const release = await readSignedRelease(signed, distUrl, flat, keys, opts);
  // derived from a verified download and verified again when read: no fsync; kept by suite (the newest) and
  // by the sha256 of its text too, which a mirror's lock names (readKeptRelease), so the next fetch keeps it
  if (opts.cacheDir !== undefined) {
    for (const path of [entry!, keptEntry(opts.cacheDir, uri, suite, release.sha256)]) await writeFileAtomic(path, JSON.stringify(signed), { durable: false });
  }
  return release;
}

/** Where a suite's Release is: a suite ending in "/" is apt's flat repository, the path itself under the URI, not under dists/. */
function suiteLocation(uri: string, suite: string): { flat: boolean; distUrl: string } {
  const flat = isFlatSuite(suite);
  const base = uri.replace(/\/+$/, '');
  return { flat, distUrl: flat ? `${base}/${suite.replace(/^(\.\/)+/, '')}` : `${base}/dists/${suite}/` };
}

/** CACHE/apt-release/v1/SHA256("URI SUITE TEXT-SHA256"): the signed Release of that suite whose verified text has that sha256. */
function keptEntry(cacheDir: string, uri: string, suite: string, sha256: string): string {
  return join(cacheDir, 'apt-release', 'v1', sha256Hex(`${uri} ${suite} ${sha256}`));
}

/**
 * The signed Release of this suite whose verified text has this sha256 (the one a mirror's lock was made
 * from), as this machine kept it when it fetched it (fetchUpstreamRelease), else as the upstream serves it
 * now, verified again against `keys` (layout, dates: one past its Valid-Until is not taken). Undefined when
 * neither is that Release or it does not verify now.
 */
export async function readKeptRelease(
  uri: string,
  suite: string,
  keys: openpgp.PublicKey[],
  sha256: string,
  stats: FetchStats | undefined,
  opts: { checkValidUntil?: boolean; now?: Date; cacheDir: string },
): Promise<UpstreamRelease | undefined> {
  const { flat, distUrl } = suiteLocation(uri, suite);
  const kept = await readFile(keptEntry(opts.cacheDir, uri, suite, sha256), 'utf8').then((t) => JSON.parse(t) as SignedRelease, () => undefined);
  const candidates: Array<() => Promise<SignedRelease | undefined>> = [async () => kept, () => fetchSignedRelease(distUrl, stats).catch(() => undefined)];
  for (const candidate of candidates) {
    const signed = await candidate();
    if (signed === undefined) continue;
    const release = await readSignedRelease(signed, distUrl, flat, keys, opts).catch(() => undefined);
    if (release?.sha256 === sha256) return release;
  }
  return undefined;
}

/** The signed Release as the upstream serves it: InRelease, or Release and Release.gpg (Release base64). */
type SignedRelease = { inRelease: string } | { release: string; signature: string };

async function fetchSignedRelease(distUrl: string, stats: FetchStats | undefined): Promise<SignedRelease> {
  try {
    const { body: inRelease } = await fetchBytes(distUrl + 'InRelease', { stats });
    return { inRelease: inRelease.toString('utf8') };
  } catch (err) {
    if (!(err instanceof FetchError && err.status === 404)) throw err;
    const { body: release } = await fetchBytes(distUrl + 'Release', { stats });
    const { body: sig } = await fetchBytes(distUrl + 'Release.gpg', { stats }).catch((e: unknown) => {
      if (e instanceof FetchError && e.status === 404) throw new SignatureError(`${distUrl}: neither InRelease nor Release.gpg exists; ferry only uses signed repositories`);
      throw e;
    });
    return { release: release.toString('base64'), signature: sig.toString('utf8') };
  }
}

/** Verify a signed Release against `keys` and read it (fetchUpstreamRelease). */
async function readSignedRelease(
  signed: SignedRelease,
  distUrl: string,
  flat: boolean,
  keys: openpgp.PublicKey[],
  opts: { checkValidUntil?: boolean; now?: Date },
): Promise<UpstreamRelease> {
  const now = opts.now ?? new Date();
  let text: string;
  let signers: string[];
  if ('inRelease' in signed) {
    const armored = signed.inRelease;
    checkClearsignedLayout(armored, distUrl + 'InRelease');
    const v = await verifyCleartext(armored, keys, distUrl + 'InRelease');
    text = v.text;
    signers = v.signers.map((s) => s.fingerprint);
  } else {
    const release = Buffer.from(signed.release, 'base64');
    const armored = signed.signature;
    checkDetachedLayout(armored, distUrl + 'Release.gpg');
    const v = await verifyDetached(release, armored, keys, distUrl + 'Release.gpg');
    text = release.toString('utf8');
    signers = v.signers.map((s) => s.fingerprint);
  }
  const [p] = parseControl(text);
  if (!p) throw new ResolveError(`${distUrl}: the signed Release is empty`);
  checkReleaseDates(p, distUrl, now, opts.checkValidUntil ?? true);
  const lists = new Map(HASH_LISTS.map(({ name, hexLength }) => [name, readHashList(field(p, name), hexLength)]));
  const files: UpstreamRelease['files'] = new Map();
  // apt trusts a file listed in a strong list, SHA512 or SHA256 (either alone will do); SHA1 and MD5Sum
  // alone are "not strong enough"
  for (const path of new Set([...lists.get('SHA512')!.keys(), ...lists.get('SHA256')!.keys()])) {
    const others = OTHER_HASHES.flatMap((algorithm) => {
      const entry = lists.get(algorithm)!.get(path);
      return entry ? [{ algorithm, digest: entry.digest }] : [];
    });
    // apt takes the size its strongest list gives: a wrong size in a weaker one is no refusal
    const strongest = HASH_LISTS.map(({ name }) => lists.get(name)!.get(path)).find((e) => e !== undefined)!;
    files.set(path, { sha256: lists.get('SHA256')!.get(path)?.digest, size: strongest.size, others });
  }
  if (files.size === 0) throw new SignatureError(`${distUrl}: the Release lists no SHA256 or SHA512 sums; ferry cannot verify its indexes (apt: not strong enough)`);
  return { distUrl, flat, files, fields: p, signers, sha256: sha256Hex(text) };
}

/** the hash lists of a Release apt reads, strongest first; the digest's length in hex */
const HASH_LISTS = [
  { name: 'SHA512', hexLength: 128 },
  { name: 'SHA256', hexLength: 64 },
  { name: 'SHA1', hexLength: 40 },
  { name: 'MD5Sum', hexLength: 32 },
] as const;
export type OtherHash = 'SHA512' | 'SHA1' | 'MD5Sum';
const OTHER_HASHES: OtherHash[] = ['SHA512', 'SHA1', 'MD5Sum'];

/**
 * One hash list of a Release by path. The size as apt reads it (strtoull): its leading digits ("338abc"
 * is 338); none (or a sign) is no size any file has, so the index is refused when fetched, as apt refuses
 * it; Number() read "0x152" or "3.38e2" as 338, which apt reads as 0 and 3. The first line of a path counts.
 */
function readHashList(text: string | undefined, hexLength: number): Map<string, { digest: string; size: number }> {
  const out = new Map<string, { digest: string; size: number }>();
  for (const line of (text ?? '').split('\n')) {
    const [digest, size, path] = line.trim().split(/\s+/);
    if (!digest || !size || !path || digest.length !== hexLength || !/^[0-9a-f]+$/i.test(digest) || out.has(path)) continue;
    const digits = /^\d+/.exec(size)?.[0];
    out.set(path, { digest: digest.toLowerCase(), size: digits === undefined ? -1 : Number(digits) });
  }
  return out;
}

/** Whether a suite names a flat repository, as apt reads a sources entry: it ends in "/" (`./`, `sub/dir/`). */
export function isFlatSuite(suite: string): boolean {
  return suite.endsWith('/');
}

/** apt's Acquire::Max-FutureTime: a Release may be dated this far ahead of the clock */
const MAX_FUTURE_MS = 10_000;

/**
 * Refuse, as apt does, a Release whose Valid-Until cannot be read (parseReleaseDate) or has passed, and one
 * whose Date is later than now (apt: "not valid yet"). A Date that cannot be read (or none) is no
 * refusal: apt only warns and does not check it.
 */
function checkReleaseDates(p: Map<string, string>, distUrl: string, now: Date, checkValidUntil: boolean): void {
  const validUntil = field(p, 'Valid-Until');
  // check_valid_until: false (apt's check-valid-until=no): the field is not read at all, as apt skips it then
  if (validUntil !== undefined && checkValidUntil) {
    const until = parseReleaseDate(validUntil);
    if (until === undefined) {
      throw new SignatureError(`${distUrl}: the signed Release has an invalid Valid-Until ${JSON.stringify(validUntil)} (apt refuses it too); expected a date like "Sat, 01 Jan 2000 00:00:00 UTC"`);
    }
    if (until < now.getTime()) throw new SignatureError(`${distUrl}: the Release expired on ${validUntil} (Valid-Until); the mirror is stale or replaying an old index`);
  }
  const date = field(p, 'Date');
  const dated = date === undefined ? undefined : parseReleaseDate(date);
  if (dated !== undefined && dated > now.getTime() + MAX_FUTURE_MS) {
    throw new SignatureError(`${distUrl}: the Release is not valid yet: dated ${date}, later than this machine's clock (${now.toISOString()}); check the clock or the mirror`);
  }
}
