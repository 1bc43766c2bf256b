import type * as openpgp from 'openpgp';
import type { Spec } from '../specfile/schema.js';
import type { Logger } from '../ui/log.js';
import type { EntryKind } from '../bundle/manifest.js';
import type { FetchStats } from '../fetch/createFetchStats.js';
import type { SyncBatch } from '../util/createSyncBatch.js';
import type { DownloadTee } from '../fetch/createDownloadFile.js';
import type { SbomComponent } from '../sbom/sbomComponent.js';

/** What every artifact kind gets while locking and building. */
export interface BuildContext {
  spec: Spec;
  /** folder that relative paths in the spec are resolved against */
  baseDir: string;
  /** the bundle's fixed time (SOURCE_DATE_EPOCH or the spec's epoch) */
  epoch: Date;
  /** content-addressed download cache of the connected side (CACHE/sha256/HEX) */
  cacheDir: string;
  /** scratch folder for generated files (indexes, packed trees), unique to this build */
  workDir: string;
  /**
   * the bundle key(s): the apt Release is signed with these; their public half is keys/bundle.asc. Read at
   * the first call (the same promise after it): a build that signs only its manifest loads openpgp while
   * its downloads run, not before the first request
   */
  signingKeys: () => Promise<openpgp.PrivateKey[]>;
  /** concurrency for downloads */
  jobs: number;
  log: Logger;
  /** bytes fetched from upstreams vs answered by the cache, for the whole build (pass as `stats` to the downloader) */
  fetchStats?: FetchStats;
  /** new cache entries are synced in this batch's one pass at the end of the build (pass as `syncBatch` to the downloader) */
  syncBatch?: SyncBatch;
  /**
   * set while a build fills its bundle in place (every kind of its lock has `plan`): where a download of
   * this digest and size also writes its bytes (pass as the request's `tee`), if it is an entry of the bundle;
   * `only`: there alone, no cache entry of its own (the file is not read from the cache afterwards; the cache
   * keeps it from the bundle, fetch/cachePacks.ts)
   */
  placeDownload?: (sha256: string, size: number, only: boolean) => DownloadTee | undefined;
}

/** One file that goes into the bundle. */
export interface BundleInput {
  /** path inside the bundle, e.g. "files/web/app.conf" */
  path: string;
  /** absolute path of the bytes on disk (cache or workDir) */
  file: string;
  kind: EntryKind;
  services: string[];
  /**
   * the bytes' sha256 and size when the kind already checked them: a cache entry fetched against a
   * known digest (named by it, verified as it streamed, read-only). The build then does not read the
   * file a second time before packing it; import checks every byte against the manifest anyway.
   */
  known?: { sha256: string; size: number };
  /**
   * this build wrote the file and hashed its bytes as it wrote them (a download checked against `known`
   * as it streamed, or a generated file): packing does not hash them again. A cache entry an earlier build
   * left is not verified: the cache trusts entries by name and size, so packing hashes them.
   */
  verified?: boolean;
}

export interface KindResult {
  entries: BundleInput[];
  /** recorded in manifest.artifacts[kind]: what hosts need to use the entries */
  artifacts?: unknown;
  /** what the entries are, for the bundle's SBOM: one per carried artifact (not the generated indexes) */
  components?: SbomComponent[];
}

/**
 * An artifact kind (files, apt, python, rootfs, git). `lock` resolves the spec into exact pins (network
 * allowed) and returns the JSON section written to SPEC.lock.json; `collect` fetches exactly that section
 * and produces the bundle's entries. `ferry build` without --locked runs lock then collect.
 */
export interface ArtifactKind<L = unknown> {
  name: string;
  /**
   * Kinds whose results this one builds from (a rootfs made by mmdebstrap installs from the bundle's
   * apt repository). The build runs them first and hands collect their results, and only theirs.
   */
  uses?: readonly string[];
  /** undefined when the spec does not use this kind */
  lock(ctx: BuildContext): Promise<L | undefined>;
  /** `used` holds the result of each kind named in `uses` that this build collected */
  collect(lock: L, ctx: BuildContext, used?: Readonly<Record<string, KindResult>>): Promise<KindResult>;
  /**
   * What `collect` will return, from the lock alone, before anything is downloaded: every entry's path,
   * kind, services and `known` digest and size (`file` may not exist yet), the artifacts and components.
   * A build whose every kind has it signs the manifest first and downloads into the bundle's places.
   */
  plan?(lock: L, ctx: BuildContext): Promise<KindResult>;
}
