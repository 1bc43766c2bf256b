import { FerryError, IntegrityError, StoreError } from '../errors.js';
import { SIGNATURE_PATH } from '../bundle/manifest.js';
import { whyStoredSignatureIsDamaged } from './checkStoredSignature.js';
import { formatBytes, silentLogger, type Logger } from '../ui/log.js';
import { describeDamage, hashStoredTree } from './hashStoredTree.js';
import { listReleases, type DamagedRelease } from './listReleases.js';
import { readStoredManifest } from './readStoredManifest.js';
import { resolveRelease } from './resolveRelease.js';
import { storeLayout } from './storeLayout.js';

export interface StoredReleaseCheck {
  name: string;
  version: string;
  digest: string;
  entries: number;
  bytes: number;
  /** the files that are not what the manifest says: one line each */
  damaged: Array<{ path: string; problem: string }>;
}

export interface StoreCheck {
  releases: StoredReleaseCheck[];
  /** releases whose ref or manifest cannot be read at all */
  unreadable: DamagedRelease[];
}

/**
 * `ferry verify --store DIR RELEASE|--all`: re-hash every file of the release(s) in the store against the
 * stored manifest (itself re-hashed against its digest), and its stored signature against the manifest's
 * bytes (checkStoredSignature.ts), without the bundle. Nothing is written. A blob
 * hard-linked into several releases is hashed once. Throws after checking everything: IntegrityError (67)
 * naming the first damaged file when any file is damaged, else the first unreadable release's own error.
 */
export async function verifyStoredReleases(storeDir: string, which: { release: string } | { all: true }, log: Logger = silentLogger): Promise<StoreCheck> {
  const unreadable: DamagedRelease[] = [];
  let targets: Array<{ name: string; version: string; digest: string }>;
  if ('release' in which) {
    targets = [await resolveRelease(storeDir, which.release)];
  } else {
    if (!(await storeExists(storeDir))) throw new StoreError(`store ${storeDir} does not exist`);
    targets = await listReleases(storeDir, (d) => unreadable.push(d));
  }
  for (const d of unreadable) log.warn(d.message);
  const hashed = new Map<string, { sha256: string; size: number }>();
  const releases: StoredReleaseCheck[] = [];
  for (const { name, version, digest } of targets) {
    const { manifest, bytes: manifestBytes, dir } = await readStoredManifest(storeDir, digest);
    const bytes = manifest.entries.reduce((n, e) => n + e.size, 0);
    const check: StoredReleaseCheck = { name, version, digest, entries: manifest.entries.length, bytes, damaged: [] };
    releases.push(check);
    const label = `${name} ${version}`;
    log.info(`checking ${label} (${digest}): ${manifest.entries.length} entries, ${formatBytes(bytes)}`);
    await hashStoredTree(dir, manifest, {
      hashed,
      onProgress: (done) => log.progress(label, done, bytes, 'bytes'),
      onDamage(d) {
        const problem = describeDamage(d);
        check.damaged.push({ path: d.entry.path, problem });
        log.warn(`${label}: ${problem}`);
      },
    });
    // not an entry of the manifest (it signs it), but imported and served with it: still the one that verified
    const signature = await whyStoredSignatureIsDamaged(dir, manifestBytes);
    if (signature) {
      check.damaged.push({ path: SIGNATURE_PATH, problem: signature });
      log.warn(`${label}: ${signature}`);
    }
  }
  return { releases, unreadable };
}

/**
 * What a check of the store ends with: IntegrityError (67) naming the first damaged file when any file is
 * damaged, else the first unreadable release's own error; undefined when everything matched.
 */
export function storeCheckError(check: StoreCheck): FerryError | undefined {
  const { releases, unreadable } = check;
  const firstOf = releases.find((r) => r.damaged.length > 0);
  if (firstOf) {
    const files = releases.reduce((n, r) => n + r.damaged.length, 0);
    const hit = releases.filter((r) => r.damaged.length > 0).length;
    const more = files > 1 ? `; ${files} damaged files in ${hit} release${hit === 1 ? '' : 's'} in all (each named above)` : '';
    const first = firstOf.damaged[0]!;
    // a new release mends a blob it shares, never another release's signature: its own bundle does
    const mend =
      first.path === SIGNATURE_PATH
        ? 'import its bundle again (it replaces the signature file with its own, verified)'
        : "import a full bundle that carries the blob, this release's or a new one (it rewrites the blob from its verified bytes), or remove the releases' refs, run ferry gc and import them again";
    return new IntegrityError(`release ${firstOf.name} ${firstOf.version}: ${first.problem}${more}: the store is damaged; ${mend}`);
  }
  if (unreadable.length === 0) return undefined;
  const err = unreadable[0]!.error ?? new StoreError(unreadable[0]!.message);
  if (unreadable.length > 1) err.message += `; ${unreadable.length} releases cannot be read (each named above)`;
  return err;
}

async function storeExists(storeDir: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  return stat(storeLayout(storeDir).root).then(
    () => true,
    () => false,
  );
}
