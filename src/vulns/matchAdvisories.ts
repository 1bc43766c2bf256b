import pep440 from '@renovatebot/pep440';
import { compareDebVersions } from '../sources/apt/compareDebVersions.js';
import { SEVERITIES, normalizePyPIName, type Advisory, type AdvisoryRange, type CarriedPackage, type Severity } from './advisory.js';

export interface Finding {
  kind: CarriedPackage['kind'];
  package: string;
  version: string;
  /** the artifact the package is inside (a rootfs), when it is not carried on its own */
  in?: string;
  /** the version that fixes these advisories, null while unfixed (or when the advisory names only the last affected one) */
  fixed: string | null;
  /** the advisory's last affected version, when it gives that instead of a fix */
  last_affected?: string;
  ids: string[];
  severity: Severity;
  /** the Debian security tracker has not decided whether the package's release is affected (fixed is null) */
  undetermined?: true;
}

/**
 * The advisories that affect each carried package: Debian version order (epochs, ~) for debs, PEP 440
 * for wheels. One finding per package (and the artifact it is in) and fixed version, its advisory IDs
 * (and aliases) merged.
 */
export function matchAdvisories(packages: CarriedPackage[], advisories: Advisory[]): Finding[] {
  const byKey = new Map<string, Advisory[]>();
  // appended in place: copying the list for each advisory took minutes over the thousands one package
  // (linux) has in OSV's Debian data
  for (const a of advisories) {
    const key = `${a.kind} ${a.package}`;
    const list = byKey.get(key);
    if (list) list.push(a);
    else byKey.set(key, [a]);
  }
  const findings = new Map<string, Finding>();
  // each finding's IDs gathered in a set and sorted once at the end (not at every advisory)
  const ids = new Map<Finding, Set<string>>();
  for (const p of packages) {
    for (const { name, version } of namesOf(p)) {
      const cmp = p.kind === 'deb' ? compareDebVersions : pep440Compare;
      for (const a of byKey.get(`${p.kind} ${name}`) ?? []) {
        const hit = firstAffecting(a.ranges, version, cmp) ?? (a.versions.some((v) => v === version || cmp(v, version) === 0) ? {} : undefined);
        if (!hit) continue;
        const fixed = hit.fixed ?? null;
        const key = `${p.kind} ${p.name} ${p.version} ${p.in ?? ''} ${fixed} ${hit.lastAffected ?? ''} ${a.undetermined ? 'undetermined' : ''}`;
        const f = findings.get(key) ?? { kind: p.kind, package: p.name, version: p.version, ...(p.in !== undefined && { in: p.in }), fixed, ...(hit.lastAffected !== undefined && { last_affected: hit.lastAffected }), ids: [], severity: 'unknown' as Severity, ...(a.undetermined && { undetermined: true as const }) };
        const seen = ids.get(f) ?? new Set<string>();
        for (const id of [a.id, ...a.aliases]) seen.add(id);
        ids.set(f, seen);
        if (SEVERITIES.indexOf(a.severity) > SEVERITIES.indexOf(f.severity)) f.severity = a.severity;
        findings.set(key, f);
      }
    }
  }
  for (const [f, seen] of ids) f.ids = [...seen].sort();
  // by package, then the earliest fix first (unfixed last), in the package's own version order
  return [...findings.values()].sort((x, y) => x.package.localeCompare(y.package) || x.version.localeCompare(y.version) || (x.in ?? '').localeCompare(y.in ?? '') || byFixed(x, y));
}

/**
 * The names an advisory may file a package under, each with the version to compare: a wheel's
 * normalized name; a .deb's own name and version, and its source package's name and version (the
 * Debian security tracker and Debian's OSV data name sources, with source versions: libssl3 is
 * affected through openssl, and a binNMU 1.2-3+b1 is source 1.2-3).
 */
function namesOf(p: CarriedPackage): Array<{ name: string; version: string }> {
  if (p.kind === 'wheel') return [{ name: normalizePyPIName(p.name), version: p.version }];
  const own = { name: p.name, version: p.version };
  if (!p.source) return [own];
  return p.source.name === p.name ? [p.source] : [own, p.source];
}

type Compare = (a: string, b: string) => number;

/**
 * The OSV evaluation of each range (advisory.ts): the first range that affects `version`, with the fix
 * that ends its affected stretch (or the last affected version), or undefined when none does.
 */
function firstAffecting(ranges: AdvisoryRange[], version: string, cmp: Compare): { fixed?: string; lastAffected?: string } | undefined {
  const at = (v: string) => (v === '0' ? -Infinity : 0);
  // '0' is before every version (and equal to itself: -Infinity minus -Infinity is NaN, no order at all)
  const order = (x: string, y: string) => (x === y ? 0 : x === '0' || y === '0' ? at(x) - at(y) : cmp(x, y));
  for (const r of ranges) {
    if (r.limits.length > 0 && !r.limits.some((limit) => order(version, limit) < 0)) continue;
    const events = r.events
      .map((e) => ('introduced' in e ? { v: e.introduced, rank: 0 } : 'fixed' in e ? { v: e.fixed, rank: 1 } : { v: e.last_affected, rank: 2 }))
      .sort((x, y) => order(x.v, y.v) || x.rank - y.rank);
    let affected = false;
    for (const e of events) {
      if (e.rank === 0 && order(version, e.v) >= 0) affected = true;
      else if (e.rank === 1 && order(version, e.v) >= 0) affected = false;
      else if (e.rank === 2 && order(version, e.v) > 0) affected = false;
    }
    if (!affected) continue;
    // the stretch ends at the first fixed or last_affected event above the version
    const end = events.find((e) => (e.rank === 1 && order(version, e.v) < 0) || (e.rank === 2 && order(version, e.v) <= 0));
    return end === undefined ? {} : end.rank === 1 ? { fixed: end.v } : { lastAffected: end.v };
  }
  return undefined;
}

function byFixed(x: Finding, y: Finding): number {
  // undetermined after the unfixed ones
  if (x.fixed === null || y.fixed === null) return (x.fixed === null ? 1 + (x.undetermined ? 1 : 0) : 0) - (y.fixed === null ? 1 + (y.undetermined ? 1 : 0) : 0);
  return x.kind === 'deb' ? compareDebVersions(x.fixed, y.fixed) : pep440Compare(x.fixed, y.fixed);
}

function pep440Compare(a: string, b: string): number {
  return pep440.valid(a) && pep440.valid(b) ? pep440.compare(a, b) : a.localeCompare(b);
}
