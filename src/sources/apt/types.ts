import type { Relation } from './parseDependencies.js';

/** Where an index came from: the upstream's base URI, suite and component. */
export interface AptOrigin {
  uri: string;
  suite: string;
  component: string;
  /**
   * apt's default pin priority of the suite: 500, or 1 when its Release says `NotAutomatic: yes`
   * (100 with `ButAutomaticUpgrades: yes` too). Absent means 500.
   */
  pin?: number;
  /**
   * the names a request `name/RELEASE` matches, as apt-get's `pkg/release` (case-blind): the Release's Suite
   * and Codename, not the folder under dists/. Absent means `suite` (a test's index).
   */
  releaseNames?: string[];
  /** the Release's `Version` (`12.4`): what a request `name/RELEASE` whose RELEASE starts with a digit matches */
  releaseVersion?: string;
}

/** One binary package as an upstream Packages index describes it (only what resolving and fetching need). */
export interface AptPackage {
  name: string;
  version: string;
  architecture: string;
  multiArch?: string;
  essential: boolean;
  /** `Important: yes` (or `Protected: yes`): apt prefers such providers right after Essential ones */
  important?: boolean;
  priority?: string;
  /** the archive's Section (mirrors filter by it) */
  section?: string;
  /** the Source field as the index gives it (`name` or `name (version)`); absent when it is the package's own name */
  source?: string;
  /** raw dependency fields; parsed on demand because most of a 60,000-package index is never visited */
  depends?: string;
  preDepends?: string;
  recommends?: string;
  conflicts?: string;
  breaks?: string;
  /** Suggests, Replaces and Enhances joined: only their names matter (apt's tie-break order, buildPackageIndex) */
  otherRelations?: string;
  provides: Relation[];
  /** path relative to the upstream URI, e.g. pool/main/n/nginx/nginx-light_1.22.1-9_amd64.deb */
  filename: string;
  size: number;
  /** from the index stanza; empty when it gives SHA512 only (pinDebSha256 then pins the sha256 of the file) */
  sha256: string;
  /** the stanza's SHA512 when it gives no SHA256 (apt verifies the .deb by it) */
  sha512?: string;
  origin: AptOrigin;
}
