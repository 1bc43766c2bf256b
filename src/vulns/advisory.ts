/** One package a bundle carries, as the vulnerability report matches it. */
export interface CarriedPackage {
  kind: 'deb' | 'wheel';
  name: string;
  version: string;
  /** a .deb's source package and its version: Debian's advisories name the source */
  source?: { name: string; version: string };
  /** the artifact it is inside (a rootfs), when it is not carried on its own */
  in?: string;
}

export const SEVERITIES = ['unknown', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * One OSV range's events as the OSV schema evaluates them: sorted by version ('0' first), an
 * `introduced` makes the versions from it on affected, a `fixed` ends that at it (exclusive), a
 * `last_affected` after it (inclusive); `limit`s, where given, bound the whole range (a version at or
 * above every limit is not affected). The security tracker's data is one range: introduced '0', fixed
 * while resolved.
 */
export interface AdvisoryRange {
  events: Array<{ introduced: string } | { fixed: string } | { last_affected: string }>;
  limits: string[];
}

/** One advisory for one package, from OSV or Debian's security tracker. */
export interface Advisory {
  id: string;
  aliases: string[];
  kind: CarriedPackage['kind'];
  /** a Debian source or binary package name, or a normalized PyPI name */
  package: string;
  /** the Debian release OSV files it under (`Debian:12` gives '12'); absent for any release */
  release?: string;
  ranges: AdvisoryRange[];
  /** exact versions listed as affected (OSV `versions`) */
  versions: string[];
  severity: Severity;
  /** the Debian security tracker has not decided whether the release is affected (status `undetermined`) */
  undetermined?: true;
}

/** PyPI names compare normalized (PEP 503): case and runs of -_. do not matter. */
export function normalizePyPIName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

export function toSeverity(text: unknown): Severity {
  const t = String(text ?? '').toLowerCase();
  if (t === 'critical') return 'critical';
  if (t === 'high') return 'high';
  if (t === 'medium' || t === 'moderate') return 'medium';
  if (t === 'low' || t === 'unimportant') return 'low';
  return 'unknown';
}
