import { ResolveError } from '../../errors.js';
import { checkDebVersion } from './checkDebVersion.js';
import { compareDebVersions } from './compareDebVersions.js';
import type { PackageIndex } from './buildPackageIndex.js';
import { formatRelation, parseDependencies, type Relation } from './parseDependencies.js';
import { releaseVersionOf } from './matchRelease.js';
import { satisfiesRelation } from './satisfiesRelation.js';
import type { AptPackage } from './types.js';

/** A package the target hosts already have (a dpkg status entry, or a base package at a known version). */
export interface InstalledPackage {
  name: string;
  version: string;
  provides: Relation[];
  essential?: boolean;
  conflicts?: string;
  breaks?: string;
  /** dpkg's selection is "hold": apt never upgrades it on its own (only when named) */
  held?: boolean;
  /** its own dependencies: an upgrade of the closure must not leave them unmet */
  depends?: string;
  preDepends?: string;
  /** its Recommends: an upgrade does not bring back what the installed version already recommended */
  recommends?: string;
  /** its Multi-Arch (`no` when a dpkg status gives none); unknown for a `base` entry the sources do not have */
  multiArch?: string;
  /** its Priority as the dpkg status gives it (apt's problem resolver scores by it) */
  priority?: string;
}

export interface ResolveOptions {
  /** follow Recommends too (apt's default on hosts; off by default for bundles) */
  recommends: boolean;
  /** what the target hosts already have, by name: it satisfies dependencies only at its own version */
  installed: ReadonlyMap<string, InstalledPackage>;
  /**
   * apt's APT::Get::Upgrade-By-Source-Package (on unless false): a package apt marks also upgrades the
   * hosts' other binaries of its source package whose candidate has the same source version
   */
  upgradeBySource?: boolean;
}

/** apt's numbers for Priority (pkgCache::State): a missing Priority is 0 and so sorts first. */
const PRIORITY: Record<string, number> = { required: 1, important: 2, standard: 3, optional: 4, extra: 5 };

type Versioned = AptPackage | InstalledPackage;

/**
 * The packages `apt-get install --no-install-recommends ROOTS` installs on hosts that have
 * `installed` (an empty dpkg status by default), on one architecture. Roots are "name", "name=version",
 * "name/suite" (apt's candidate switch for that suite, setCandidateRelease) or "name:arch"; a root is
 * carried even when the hosts have it.
 *
 * It follows apt's marking (pkgDepCache::MarkInstall): every root is marked first; then, depth first in
 * the roots' order, each package's Pre-Depends, Depends (and Recommends when asked). A group that the
 * installed or marked packages satisfy adds nothing. Otherwise its solutions are tried in apt's order:
 * alternative by alternative, and within one the package and its providers by apt's CompareProviders
 * (packages being installed, installed ones, the package of that name, Essential, Important, higher
 * Priority, then apt's cache order), installed packages that an upgrade fixes before new ones. A solution whose own dependencies
 * cannot be met, or that conflicts with a package being installed, fails and the next one is tried,
 * as apt does (what a failed attempt marked stays marked while marking; apt-get drops it at the end when nothing reaches it). An installed package satisfies a
 * dependency only at its installed version; otherwise its candidate is carried as an upgrade, with its
 * own dependencies. Candidates are the highest version in any source (apt's default pins).
 * With apt's Upgrade-By-Source-Package (upgradeBySource, on unless false), each package apt marks also
 * upgrades the installed, not held packages whose candidate comes from the same source name and version
 * (docs/apt.md, "Upgrades by source package"). A package the hosts have that clashes (Conflicts, Breaks)
 * with one being marked is upgraded when its candidate clears the clash. What marking leaves broken is then
 * tried once more, as apt-get's problem resolver does (a dependency whose pick a later Conflicts unmarked;
 * a package of the hosts whose dependency the install broke: upgraded, or given another alternative).
 *
 * When the result is not a consistent set (a dependency left unmet, Conflicts or Breaks between two
 * packages of the result or with an installed one), it fails with the chain of packages that led
 * there: apt would stop with "unmet dependencies", and ferry cannot remove packages from hosts.
 */
export function resolveAptClosure(index: PackageIndex, roots: string[], opts: ResolveOptions): AptPackage[] {
  const installed = opts.installed;
  const marked = new Map<string, AptPackage>();
  const chains = new Map<string, string[]>();
  const protectedNames = new Set<string>();
  /** packages whose candidate apt dropped (MarkInstall_DiscardCandidate: a dependency nothing could meet) */
  const discarded = new Set<string>();
  /**
   * why a package could not be installed the last time it was tried: its candidate dropped, or the install
   * given up (MarkInstall_DiscardInstall: a conflict, a dependency that failed), which a later try may pass
   */
  const failedWhy = new Map<string, string>();
  /** the reasons of failedWhy that are a clash with a package being installed (Conflicts, Breaks) */
  const clashes = new Set<string>();

  const installedProviders = new Map<string, InstalledPackage[]>();
  for (const p of installed.values()) {
    for (const v of p.provides) {
      const list = installedProviders.get(v.name) ?? [];
      list.push(p);
      installedProviders.set(v.name, list);
    }
  }

  const parsed = new Map<AptPackage, { pre: Relation[][]; dep: Relation[][]; rec: Relation[][]; neg: Array<{ rel: Relation; kind: string }> }>();
  const relationsOf = (p: AptPackage) => {
    let r = parsed.get(p);
    if (!r) {
      const field = (name: string, value: string | undefined) => {
        const groups = parseDependencies(value);
        for (const g of groups) {
          for (const rel of g) {
            const invalid = rel.version !== undefined ? checkDebVersion(rel.version) : undefined;
            if (invalid) throw new ResolveError(`${p.name} ${p.version}: its ${name} names "${formatRelation(rel)}", a version dpkg rejects (${invalid}); the upstream index is broken`);
          }
        }
        return groups;
      };
      r = {
        pre: field('Pre-Depends', p.preDepends),
        dep: field('Depends', p.depends),
        rec: opts.recommends ? field('Recommends', p.recommends) : [],
        neg: [
          ...field('Conflicts', p.conflicts).flat().map((rel) => ({ rel, kind: 'Conflicts' })),
          ...field('Breaks', p.breaks).flat().map((rel) => ({ rel, kind: 'Breaks' })),
        ],
      };
      parsed.set(p, r);
    }
    return r;
  };

  /** candidates that `name/suite` requests set, as apt's SetCandidateRelease does (setCandidateRelease) */
  const chosenCandidates = new Map<string, AptPackage>();
  /**
   * apt's candidate when it is not the installed version: with nothing installed the highest pin, then
   * the highest version; else among the versions newer than the installed one, unless the installed
   * version's priority (100, so a NotAutomatic suite's 1 never upgrades it) is above theirs
   */
  const originalCandidate = (name: string): AptPackage | undefined => {
    const inst = installed.get(name);
    const chosen = chosenCandidates.get(name);
    // a version a `name/suite` request chose (below): the candidate unless the hosts have that very version
    if (chosen) return inst && compareDebVersions(inst.version, chosen.version) === 0 ? undefined : chosen;
    const versions = index.byName.get(name);
    if (!versions?.length) return undefined;
    if (!inst) return versions[0];
    // apt's GetCandidateVer walks the versions newest first and stops at the installed one (pins below
    // 1000 never downgrade): the first of the highest priority wins, and the installed version (priority
    // 100, or its source's when higher) only when its priority is above every newer one's. So the highest
    // pin overall, when older than what the hosts have, does not keep a newer version of a lower pin out
    const pinOf = (v: AptPackage) => v.origin.pin ?? 500;
    const installedPin = Math.max(100, ...versions.filter((v) => compareDebVersions(v.version, inst.version) === 0).map(pinOf));
    let best: AptPackage | undefined;
    for (const v of versions) {
      if (compareDebVersions(v.version, inst.version) <= 0) continue;
      if (!best || pinOf(v) > pinOf(best) || (pinOf(v) === pinOf(best) && compareDebVersions(v.version, best.version) > 0)) best = v;
    }
    return best && pinOf(best) >= installedPin ? best : undefined;
  };
  const candidate = (name: string): AptPackage | undefined => (discarded.has(name) ? undefined : (marked.get(name) ?? originalCandidate(name)));
  /** what the hosts will have of `name` after the install: the marked version, else the installed one */
  const installVersion = (name: string): Versioned | undefined => marked.get(name) ?? installed.get(name);

  /**
   * whether `p` meets `name:any`: only a package that allows it (Multi-Arch: allowed), like apt and dpkg, the
   * hosts' own version included (its dpkg status says); a `base` entry of unknown Multi-Arch is taken to
   */
  const anyOk = (p: Versioned): boolean => p.multiArch === 'allowed' || (!('origin' in p) && p.multiArch === undefined);
  const matches = (p: Versioned, rel: Relation): boolean => {
    if (p.name !== rel.name) return false;
    if (rel.archQualifier === 'any' && !anyOk(p)) return false;
    // (`name:` has an empty qualifier: an architecture apt has no package for)
    if (rel.archQualifier !== undefined && rel.archQualifier !== 'any' && rel.archQualifier !== 'native' && rel.archQualifier !== index.arch) return false;
    return satisfiesRelation(p.version, rel.op, rel.version);
  };
  // Unversioned Provides satisfy only unversioned relations; versioned Provides (`foo (= 2)`) satisfy both.
  // `name:any` is provided only by a `Multi-Arch: allowed` package (apt gives `name:any` the implicit
  // Provides of those alone; anyOk), `name:ARCH` of another architecture by none. A `Provides: v:any` (or of
  // another architecture) gives no `v` (apt files it under the name `v:any`)
  const provides = (p: Versioned, rel: Relation): boolean =>
    (rel.archQualifier === 'any' ? anyOk(p) : rel.archQualifier === undefined || rel.archQualifier === 'native' || rel.archQualifier === index.arch) &&
    p.provides.some((v) => v.name === rel.name && (v.archQualifier === undefined || v.archQualifier === index.arch) && (!rel.op || (v.op === '=' && v.version !== undefined && satisfiesRelation(v.version, rel.op, rel.version))));

  /** the packages of the install state (marked or installed) that satisfy `rel` */
  const installedFor = (rel: Relation): Versioned[] => {
    const out: Versioned[] = [];
    const own = installVersion(rel.name);
    if (own && matches(own, rel)) out.push(own);
    for (const p of index.providers.get(rel.name) ?? []) if (marked.get(p.name) === p && provides(p, rel) && !out.includes(p)) out.push(p);
    for (const p of installedProviders.get(rel.name) ?? []) if (!marked.has(p.name) && provides(p, rel)) out.push(p);
    return out;
  };
  const satisfied = (rel: Relation): boolean => installedFor(rel).length > 0;
  const satisfiableByCandidate = (rel: Relation): boolean => {
    const own = originalCandidate(rel.name);
    if (own && matches(own, rel)) return true;
    return (index.providers.get(rel.name) ?? []).some((p) => originalCandidate(p.name) === p && provides(p, rel));
  };

  /** what the hosts have now satisfies `rel` (before the install) */
  const hostsSatisfy = (rel: Relation): boolean => {
    const own = installed.get(rel.name);
    return (own !== undefined && matches(own, rel)) || (installedProviders.get(rel.name) ?? []).some((p) => provides(p, rel));
  };
  const installedGroups = new Map<string, Relation[][]>();
  /** the Pre-Depends and Depends of a package the hosts have */
  const groupsOfInstalled = (q: InstalledPackage): Relation[][] => {
    let g = installedGroups.get(q.name);
    if (!g) installedGroups.set(q.name, (g = [...parseDependencies(q.preDepends), ...parseDependencies(q.depends)]));
    return g;
  };
  /**
   * apt's Essential and Important (or Protected) flags belong to the package, not to one version: any
   * version the sources list, or the hosts' own, that says yes sets them (debListParser::UsePackage), so a
   * candidate without the field is Essential when an older or newer version is
   */
  const packageFlags = new Map<string, { essential: boolean; important: boolean }>();
  const flagsOf = (name: string) => {
    let f = packageFlags.get(name);
    if (!f) {
      const versions = index.byName.get(name) ?? [];
      f = { essential: versions.some((v) => v.essential) || installed.get(name)?.essential === true, important: versions.some((v) => v.important === true) };
      packageFlags.set(name, f);
    }
    return f;
  };
  /** `target`: the name the dependency asks for, whose own package goes first (none for `name:native`, `name:ARCH`) */
  const compareProviders = (target: string | undefined) => (a: AptPackage, b: AptPackage): number =>
    Number(protectedNames.has(b.name)) - Number(protectedNames.has(a.name)) ||
    Number(installed.has(b.name)) - Number(installed.has(a.name)) ||
    // the package named by the dependency before others that provide the name
    Number(b.name === target) - Number(a.name === target) ||
    Number(flagsOf(b.name).essential) - Number(flagsOf(a.name).essential) ||
    Number(flagsOf(b.name).important) - Number(flagsOf(a.name).important) ||
    priority(a) - priority(b) ||
    (index.order(b.name) ?? -1) - (index.order(a.name) ?? -1);

  /** apt's getAllPossibleSolutions: per alternative in order, its candidates sorted; upgrades of installed packages first */
  const solutions = (group: Relation[]): AptPackage[] => {
    const upgrades: AptPackage[] = [];
    const fresh: AptPackage[] = [];
    for (const rel of group) {
      const found: AptPackage[] = [];
      const own = candidate(rel.name);
      if (own && matches(own, rel)) found.push(own);
      for (const p of index.providers.get(rel.name) ?? []) if (candidate(p.name) === p && provides(p, rel) && !found.includes(p)) found.push(p);
      // apt 2.6 does not put the package of that name first for an architecture-qualified dependency
      // (`name:native`, `name:amd64`): there Essential, Priority and its cache order decide between it and its providers
      found.sort(compareProviders(rel.archQualifier === undefined || rel.archQualifier === 'any' ? rel.name : undefined));
      for (const p of found) (installed.has(p.name) ? upgrades : fresh).push(p);
    }
    return [...new Set([...upgrades, ...fresh])];
  };

  /** the packages of the install state that `p`'s Conflicts and Breaks hit (its own name excepted) */
  const conflictsOf = (p: AptPackage): Versioned[] => {
    const hit: Versioned[] = [];
    for (const { rel } of relationsOf(p).neg) for (const q of installedFor(rel)) if (q.name !== p.name && !hit.includes(q)) hit.push(q);
    return hit;
  };

  /** the Conflicts and Breaks of a package of the index, or of one the hosts have (as dpkg's status gives them) */
  const negativesOf = (q: Versioned): Relation[] =>
    'origin' in q ? relationsOf(q).neg.map(({ rel }) => rel) : [...parseDependencies((q as InstalledPackage).conflicts), ...parseDependencies((q as InstalledPackage).breaks)].flat();
  /** whether one of `a`, `b` Conflicts with or Breaks the other */
  const clash = (a: Versioned, b: Versioned): boolean =>
    a.name !== b.name && (negativesOf(a).some((rel) => matches(b, rel) || provides(b, rel)) || negativesOf(b).some((rel) => matches(a, rel) || provides(a, rel)));
  /** the packages of the install state (marked, or the hosts' own not being replaced) whose Conflicts or Breaks hit `p` */
  const conflictedBy = (p: AptPackage): Versioned[] => {
    const hit: Versioned[] = [];
    for (const m of marked.values()) if (m.name !== p.name && relationsOf(m).neg.some(({ rel }) => matches(p, rel) || provides(p, rel))) hit.push(m);
    if (!installedNegatives) {
      installedNegatives = new Map();
      for (const q of installed.values()) {
        for (const rel of negativesOf(q)) installedNegatives.set(rel.name, [...(installedNegatives.get(rel.name) ?? []), { q, rel }]);
      }
    }
    for (const name of [p.name, ...p.provides.map((v) => v.name)]) {
      for (const { q, rel } of installedNegatives.get(name) ?? []) {
        if (q.name === p.name || marked.has(q.name) || hit.includes(q)) continue;
        if (matches(p, rel) || provides(p, rel)) hit.push(q);
      }
    }
    return hit;
  };
  /** the Conflicts and Breaks of the hosts' packages, by the name they target */
  let installedNegatives: Map<string, Array<{ q: InstalledPackage; rel: Relation }>> | undefined;

  /** whether `p` Conflicts with / Breaks a marked package, or a marked package Conflicts with / Breaks `p` */
  const clashesWithMarked = (p: AptPackage): boolean =>
    conflictsOf(p).some((q) => marked.get(q.name) === q) ||
    [...marked.values()].some((m) => m.name !== p.name && relationsOf(m).neg.some(({ rel }) => (p.name === rel.name && matches(p, rel)) || provides(p, rel)));

  /** "source name\0source version" of a package (the Source field, else its own name and version) */
  const sourceKey = (p: AptPackage): string => {
    const m = /^(\S+)(?:\s*\(\s*(\S+)\s*\))?$/.exec(p.source?.trim() ?? '');
    return m ? `${m[1]}\0${m[2] ?? p.version}` : `${p.name}\0${p.version}`;
  };
  /** installed packages by the source key of their candidate, when that candidate is an upgrade */
  let upgradableBySource: Map<string, string[]> | undefined;
  /**
   * apt's Upgrade-By-Source-Package: when apt marks `p` (or finds a dependency met by `p` installed at
   * its candidate), it upgrades the hosts' other binaries of p's source whose candidate has p's source
   * version; held packages stay. They are marked like dependencies (their own closure follows).
   */
  const upgradeSiblings = (p: AptPackage, chain: string[]): void => {
    if (opts.upgradeBySource === false) return;
    if (!upgradableBySource) {
      upgradableBySource = new Map();
      for (const inst of installed.values()) {
        const c = originalCandidate(inst.name);
        if (!c || inst.held) continue;
        const key = sourceKey(c);
        upgradableBySource.set(key, [...(upgradableBySource.get(key) ?? []), inst.name]);
      }
    }
    const key = sourceKey(p);
    for (const name of upgradableBySource.get(key) ?? []) {
      if (name === p.name || marked.has(name)) continue;
      const c = candidate(name);
      if (c && sourceKey(c) === key) {
        // apt marks these without its protection: a dependency they find met is not looked into
        bySourceDepth++;
        try {
          markInstall(c, chain, false);
        } finally {
          bySourceDepth--;
        }
      }
    }
  };
  let bySourceDepth = 0;
  const visitedInstalled = new Set<string>();
  /**
   * A Depends of a package apt marks on the user's behalf, met by `c` installed at its candidate: apt
   * still visits `c` (MarkInstall keeps it), so c's siblings are upgraded and c's own Depends visited.
   */
  const visitInstalled = (c: AptPackage, chain: string[]): void => {
    if (visitedInstalled.has(c.name)) return;
    visitedInstalled.add(c.name);
    const here = [...chain, `${c.name} ${c.version}`];
    upgradeSiblings(c, here);
    const r = relationsOf(c);
    for (const group of [...r.pre, ...r.dep]) visitMet(group, here);
  };
  /**
   * apt's getAllPossibleSolutions for a group: the packages whose candidate or installed version
   * satisfies one of its alternatives, by name or Provides
   */
  const possibleSolutions = (group: Relation[]): Set<string> => {
    const names = new Set<string>();
    const versions = (name: string): Versioned[] => {
      const c = candidate(name) ?? (discarded.has(name) || installed.has(name) ? undefined : index.byName.get(name)?.[0]);
      const i = installed.get(name);
      return [...(c ? [c] : []), ...(i ? [i] : [])];
    };
    for (const rel of group) {
      if (versions(rel.name).some((v) => matches(v, rel))) names.add(rel.name);
      for (const p of [...(index.providers.get(rel.name) ?? []), ...(installedProviders.get(rel.name) ?? [])]) {
        if (versions(p.name).some((v) => provides(v, rel))) names.add(p.name);
      }
    }
    return names;
  };
  const visitMet = (group: Relation[], chain: string[]): void => {
    if (opts.upgradeBySource === false || bySourceDepth > 0) return;
    const met = group.find(satisfied);
    if (!met) return;
    // apt follows a met dependency only when one package could ever satisfy it: not `a | b`, nor a name
    // that another package also provides, even when only one of them is installed
    if (possibleSolutions(group).size !== 1) return;
    for (const q of installedFor(met)) {
      const c = atCandidate(q);
      if (c) visitInstalled(c, chain);
    }
  };
  /** the package of the index an installed package is at, when no source offers a newer one */
  const atCandidate = (q: Versioned): AptPackage | undefined =>
    installed.get(q.name) === q && !marked.has(q.name) && !originalCandidate(q.name) ? index.byName.get(q.name)?.find((v) => v.version === q.version) : undefined;

  /** the marked packages whose Conflicts and Breaks apt applied while protecting them: what those hit, apt does not install */
  const guarded = new Set<string>();
  /** the packages markInstall is marking, outermost first (each one's dependencies are being marked) */
  const marking: string[] = [];
  const markInstall = (p: AptPackage, chain: string[], fromUser: boolean): boolean => {
    if (!fromUser && marked.get(p.name) === p) return true;
    if (!fromUser && (discarded.has(p.name) || marked.has(p.name))) return false;
    // apt's IsInstallOkHold: a package the hosts hold (dpkg's "hold") changes version only when it is requested,
    // never for a dependency (apt-get: "… but 1 is to be installed", "you have held broken packages")
    const heldAt = installed.get(p.name);
    if (!fromUser && heldAt?.held && heldAt.version !== p.version) {
      failedWhy.set(p.name, `${[...chain, `${p.name} ${p.version}`].join(' -> ')}: the hosts hold ${p.name} at ${heldAt.version} (dpkg hold), and apt changes a held package only when it is requested`);
      return false;
    }
    const wasProtected = protectedNames.has(p.name);
    const failEarly = !wasProtected && !fromUser;
    const r = relationsOf(p);
    // a requested package the hosts already have at this version: apt-get says "already the newest
    // version" and marks nothing, so its Recommends are not installed either (ferry still carries it)
    // an upgrade follows only Recommends new to it: a group naming a package that the installed version
    // already recommended is skipped (it is missing on purpose, or already there)
    const inst = installed.get(p.name);
    const recommendedBefore = new Set(inst && r.rec.length ? parseDependencies(inst.recommends).flat().map((rel) => rel.name) : []);
    const recommends = fromUser && inst?.version === p.version ? [] : r.rec.filter((group) => !group.some((rel) => recommendedBefore.has(rel.name)));
    const here = [...chain, `${p.name} ${p.version}`];
    // apt's IsInstallOkDependenciesSatisfiableByCandidates: a dependency nothing could ever satisfy drops the candidate
    for (const group of [...r.pre, ...r.dep]) {
      if (group.some((rel) => satisfied(rel) || satisfiableByCandidate(rel))) continue;
      if (!wasProtected) {
        failedWhy.set(p.name, unmet(group, here));
        discarded.add(p.name);
      }
      if (failEarly) return false;
    }
    // apt's RemoveConflictsIfNotUpgradeable, both ways. A package being installed whose Conflicts/Breaks
    // hit p fails p (apt-get does not try p then; a protected p stays, and the final check refuses); p's
    // own Conflicts/Breaks fail p when they hit a package being installed on purpose, and unmark one only
    // marked on the way. A package the hosts have that
    // clashes either way is upgraded to its candidate when that clears the clash
    // (MarkInstall_UpgradeOrRemoveConflicts); else, when its own Conflicts/Breaks hit p, p fails, and when
    // p's hit it, apt would remove it (the final check refuses: ferry does not remove packages)
    const own = conflictsOf(p);
    const toUpgrade: AptPackage[] = [];
    /** packages of the hosts that p's own Conflicts/Breaks hit and no upgrade of them clears */
    const removals: InstalledPackage[] = [];
    const failClash = (why: string): false => {
      failedWhy.set(p.name, why);
      clashes.add(why);
      return false;
    };
    for (const q of [...own, ...conflictedBy(p).filter((q) => !own.includes(q))]) {
      if (marked.get(q.name) === q && !own.includes(q)) {
        // only a package marked under apt's protection dropped the candidates its Conflicts/Breaks hit
        // (MarkInstall_RemoveConflictsIfNotUpgradeable: MarkInstall_DiscardCandidate); one marked on the way
        // left them be, and apt marks p anyway: the clash is left to its problem resolver
        if (failEarly && guarded.has(q.name)) {
          const hit = relationsOf(q as AptPackage).neg.find(({ rel }) => matches(p, rel) || provides(p, rel))!;
          return failClash(`${q.name} ${q.version}, which is being installed, declares ${hit.kind}: ${formatRelation(hit.rel)}, which ${p.name} ${p.version} matches`);
        }
        // p is protected: apt marks it anyway and leaves the clash to its problem resolver, which gives up
      } else if (marked.get(q.name) === q && protectedNames.has(q.name)) {
        if (failEarly) return failClash(`${p.name} ${p.version} conflicts with ${q.name} ${q.version}, which is being installed`);
      } else if (marked.get(q.name) === q) {
        marked.delete(q.name);
      } else if (installed.get(q.name) === q) {
        const c = installed.get(q.name)!.held ? undefined : originalCandidate(q.name);
        if (c && !clash(p, c)) {
          if (!toUpgrade.includes(c)) toUpgrade.push(c);
        } else if (failEarly && own.includes(q) && (protectedNames.has(q.name) || flagsOf(q.name).essential)) {
          // p's own Conflicts/Breaks hit a package of the hosts that apt protects, or an Essential one, which
          // apt never removes, and no upgrade clears them: apt-get does not pick p (when they hit another
          // package of the hosts, apt-get removes that one, which the final check refuses)
          return failClash(`${p.name} ${p.version} clashes with ${q.name} ${q.version}, which the hosts have and no upgrade of it clears`);
        } else if (own.includes(q)) {
          removals.push(q as InstalledPackage);
        }
        // a package of the hosts whose own Conflicts/Breaks hit p, and no upgrade clears them: apt marks p
        // anyway, and its problem resolver removes the one or unmarks the other (resolveClashes)
      }
    }
    marked.set(p.name, p);
    if (wasProtected || fromUser) guarded.add(p.name);
    // apt upgrades them without following their dependencies (MarkInstall without AutoInst): what they
    // need is left to the problem resolver (the pass after marking), their Recommends are not taken
    for (const c of toUpgrade) {
      if (marked.has(c.name)) continue;
      marked.set(c.name, c);
      clearingUpgrades.add(c.name);
      if (!chains.has(c.name)) chains.set(c.name, [...chain, `${p.name} ${p.version}`]);
    }
    if (!chains.has(p.name)) chains.set(p.name, chain);
    protectedNames.add(p.name);
    upgradeSiblings(p, here);
    let failed = false;
    let failure: string | undefined;
    // apt protects the only possible solution of a dependency of a protected package (requested, or
    // protected so in turn), installed or not: it is not given up for later packages, and they fail instead
    const permanent = wasProtected || fromUser;
    const protectOnly = (group: Relation[]) => {
      if (!permanent) return;
      const only = possibleSolutions(group);
      if (only.size !== 1) return;
      const name = [...only][0]!;
      protectedNames.add(name);
      // apt marks a package it so protects once more, its Conflicts and Breaks now applied under protection
      if (marked.has(name)) guarded.add(name);
    };
    marking.push(p.name);
    try {
      for (const groups of [r.pre, r.dep, recommends]) {
        const optional = groups === recommends;
        for (const group of groups) {
          if (!optional) protectOnly(group);
          if (group.some(satisfied)) {
            if (!optional) visitMet(group, here);
            continue;
          }
          // a Recommends is not taken when its pick conflicts with (or breaks) a package being installed, or
          // one of those conflicts with the pick: apt-get skips it rather than giving up what it has marked.
          // When the pick's own Conflicts/Breaks (or those of a package it pulls in) hit a package it pulls
          // in, apt marks them all and the group is met: its problem resolver then drops what clashes
          // (resolveClashes), leaving the Recommends unmet ("Recommended packages:")
          const found = (optional ? solutions(group).filter((s) => !clashesWithMarked(s)) : solutions(group)).some((s) => markInstall(s, here, false));
          if (!found && !optional) {
            failed = true;
            failure ??= unmet(group, here);
            if (failEarly) break;
          }
        }
        if (failed && failEarly) break;
      }
    } finally {
      marking.pop();
      if (!wasProtected) protectedNames.delete(p.name);
    }
    if (failed && failEarly) {
      // apt's MarkInstall_DiscardInstall: this package goes, what it marked on the way stays, and so does its
      // candidate (MarkInstall_DiscardCandidate: a later dependency on it finds none, or only the hosts'
      // version); a package refused on a clash alone (above) keeps its candidate for a later try
      marked.delete(p.name);
      failedWhy.set(p.name, failure!);
      discarded.add(p.name);
      return false;
    }
    // apt removes them once p is marked (MarkInstall's delayed removal), and they stay removed when its
    // problem resolver or the end of apt-get install then drops p
    for (const q of removals) {
      const by = [...chain, `${p.name} ${p.version}`].join(' -> ');
      if (!removedFromHosts.has(q.name)) removedBy.set(q.name, p);
      if (!removedFromHosts.has(q.name)) removedFromHosts.set(q.name, `${by} declares Conflicts/Breaks that ${q.name} ${q.version} on the hosts matches, and no upgrade of it clears them. apt would remove ${q.name} (even when it then leaves ${p.name} ${p.version} out)`);
    }
    return !failed;
  };
  /** packages of the hosts apt removes (name: why), while marking or in its problem resolver */
  const removedFromHosts = new Map<string, string>();
  /** the pick whose own Conflicts/Breaks removed a package of the hosts while marking (MarkInstall's delayed removal) */
  const removedBy = new Map<string, AptPackage>();
  /**
   * apt's problem resolver on a pick `p` (not protected) that removed the hosts' `q` while marking, when p
   * also Depends on q (nothing else being installed meets that group) and its other Pre-Depends and Depends
   * are met: p outscores q and the group was met before the install, so q goes on its kill list and is kept
   * ("Fixing p via keep of q"); the clash then comes back, q is removed and kept again until the scores are
   * level, and p is held back ("Holding Back p rather than change q"): q stays, p is not installed
   */
  const keepRemovedDependency = (): boolean => {
    let changed = false;
    const scores = removedBy.size ? resolverScores() : undefined;
    for (const [name, p] of removedBy) {
      const q = installed.get(name)!;
      if (marked.get(p.name) !== p || protectedNames.has(p.name) || marked.has(name) || !removedFromHosts.has(name)) continue;
      if ((scores!.get(p.name) ?? 0) <= (scores!.get(name) ?? 0)) continue;
      const r = relationsOf(p);
      const onQ = (group: Relation[]) => metOnlyBy(q, group);
      const groups = [...r.pre, ...r.dep];
      if (!groups.some(onQ) || !groups.every((group) => onQ(group) || group.some(satisfied))) continue;
      // a package being installed that p's Conflicts/Breaks hit and that scores as high holds p back first
      // (q stays removed); a lower one goes on the kill list too and is kept out (unless protected)
      const hit = conflictsOf(p).filter((x): x is AptPackage => x.name !== name && marked.get(x.name) === x);
      if (hit.some((x) => (scores!.get(x.name) ?? 0) >= (scores!.get(p.name) ?? 0))) continue;
      keep(name);
      for (const x of [p, ...hit]) {
        if (x !== p && protectedNames.has(x.name)) continue;
        marked.delete(x.name);
        dropped.add(x.name);
      }
      changed = true;
    }
    // a protected package whose Pre-Depends or Depends only the removed package met, and that outscores it,
    // has it kept too; the pick that removed it is then held back when it scores no higher than it
    for (const [name, p] of removedBy) {
      const q = installed.get(name)!;
      if (marked.has(name) || !removedFromHosts.has(name)) continue;
      const onQ = (group: Relation[]) => metOnlyBy(q, group);
      const keeper = [...marked.values()].find((d) => protectedNames.has(d.name) && (scores!.get(d.name) ?? 0) > (scores!.get(name) ?? 0) && [...relationsOf(d).pre, ...relationsOf(d).dep].some(onQ));
      if (!keeper) continue;
      keep(name);
      if (marked.get(p.name) === p && !protectedNames.has(p.name) && (scores!.get(p.name) ?? 0) <= (scores!.get(name) ?? 0)) {
        marked.delete(p.name);
        dropped.add(p.name);
      }
      changed = true;
    }
    return changed;
  };
  /** whether the hosts' `q` meets `group` and nothing else of the install state does */
  const metOnlyBy = (q: InstalledPackage, group: Relation[]): boolean => group.some((rel) => matches(q, rel) || provides(q, rel)) && !group.some((rel) => installedFor(rel).some((x) => x.name !== q.name));
  /** undo a removal made while marking */
  const keep = (name: string) => {
    removedFromHosts.delete(name);
    removedBy.delete(name);
  };

  /**
   * apt's pkgProblemResolver::MakeScores on the install state (the marked packages and the hosts' others): a
   * package's Priority (required 3, important 2, standard 1, optional -1, extra -2, as apt 2.6 reads it from the
   * install version), 100 when Essential or Important, 1 when the hosts have it; 1 for
   * each Pre-Depends, Depends and Recommends naming it or met by its Provides, -1 for each Conflicts and Breaks
   * (a versioned one only when its install version matches); then the scores above 0 of the packages depending
   * on it by name, what that added passed on to the packages providing its name; last 10000 for a requested
   * package and 5000 for an Essential or Important one
   */
  /** apt scores once, when its problem resolver starts: the scores of the first call are kept */
  let startScores: Map<string, number> | undefined;
  const resolverScores = (): Map<string, number> => (startScores ??= problemScores());
  const problemScores = (): Map<string, number> => {
    const state = new Map<string, Versioned>();
    // (a package of the hosts removed while marking is not in it: apt scores only what it will install)
    for (const [name, q] of installed) if (!marked.has(name) && !removedBy.has(name)) state.set(name, q);
    for (const [name, p] of marked) state.set(name, p);
    const scores = new Map<string, number>();
    const add = (name: string, n: number) => scores.set(name, (scores.get(name) ?? 0) + n);
    const PRIO = [0, 3, 2, 1, -1, -2];
    const depsOf = (v: Versioned): Array<{ rel: Relation; n: number }> => {
      const r = 'origin' in v ? relationsOf(v) : undefined;
      const neg = r ? r.neg.map(({ rel }) => rel) : negativesOf(v);
      return [
        ...[...parseDependencies(v.preDepends), ...parseDependencies(v.depends), ...parseDependencies(v.recommends)].flat().map((rel) => ({ rel, n: 1 })),
        ...neg.map((rel) => ({ rel, n: -1 })),
      ];
    };
    for (const [name, v] of state) {
      const flags = flagsOf(name);
      if (flags.essential || flags.important) add(name, 100);
      add(name, PRIO[priority(v)]!);
      if (installed.has(name)) add(name, 1);
      for (const { rel, n } of depsOf(v)) {
        const target = state.get(rel.name);
        if (!rel.op || (target && matches(target, rel))) add(rel.name, n);
        const provs = new Set<string>();
        for (const [other, w] of state) if (provides(w, rel)) provs.add(other);
        for (const other of provs) add(other, n);
      }
    }
    const old = new Map(scores);
    for (const [, v] of state) {
      if ((old.get(v.name) ?? 0) <= 0) continue;
      for (const group of [...parseDependencies(v.preDepends), ...parseDependencies(v.depends), ...parseDependencies(v.recommends)]) {
        for (const rel of group) if (state.has(rel.name)) add(rel.name, old.get(v.name)!);
      }
    }
    for (const [name, now] of [...scores]) {
      const transfer = Math.abs(now - (old.get(name) ?? 0));
      if (!transfer) continue;
      for (const [other, w] of state) if (w.provides.some((x) => x.name === name)) add(other, transfer);
    }
    for (const p of rootPkgs) add(p.name, 10000);
    for (const name of state.keys()) if (flagsOf(name).essential || flagsOf(name).important) add(name, 5000);
    return scores;
  };

  /**
   * The first thing apt's problem resolver does with what marking left: a package being installed whose own
   * Conflicts or Breaks hit another package being installed (marked on the way, apt's MarkInstall lets
   * that happen). From the highest score down: a package apt protects (requested, or protected so), or one
   * scoring above the other, has the other unmarked (unless that one is protected: then the clash stays, and
   * apt-get gives up); otherwise the package itself is held back. What it had pulled in stays marked (and is
   * dropped at the end when nothing needs it)
   */
  const resolveClashes = (): boolean => {
    const hits = (d: Versioned) => negativesOf(d).flatMap((rel) => installedFor(rel).filter((q): q is AptPackage => q.name !== d.name && marked.get(q.name) === q));
    const hostsOwn = [...installed.values()].filter((q) => !marked.has(q.name) && !removedFromHosts.has(q.name) && hits(q).length);
    const clashing = () => [...marked.values()].filter((p) => hits(p).length);
    const onHosts = [...marked.values()].some((p) => conflictsOf(p).some((q) => !marked.has(q.name) && installed.get(q.name) === q && !removedFromHosts.has(q.name)));
    if (!clashing().length && !hostsOwn.length && !onHosts) return false;
    const scores = resolverScores();
    const score = (name: string) => scores.get(name) ?? 0;
    const drop = (name: string) => {
      marked.delete(name);
      dropped.add(name);
    };
    let changed = false;
    // a package of the hosts scoring no higher than the package being installed that its Conflicts/Breaks hit
    // is removed ("Removing … rather than change …"), else that package is unmarked
    for (const q of hostsOwn.sort((a, b) => score(b.name) - score(a.name))) {
      for (const p of hits(q)) {
        if (marked.get(p.name) !== p || removedFromHosts.has(q.name)) continue;
        if (score(q.name) <= score(p.name)) {
          removedFromHosts.set(q.name, `${q.name} ${q.version} on the hosts declares Conflicts/Breaks that ${[...(chains.get(p.name) ?? []), `${p.name} ${p.version}`].join(' -> ')} matches, and no upgrade of it clears them. apt would remove ${q.name}`);
        } else if (!protectedNames.has(p.name)) {
          drop(p.name);
          changed = true;
        }
      }
    }
    // a package being installed (re-instated by the resolver, or one whose removal of a package of the hosts
    // was undone) whose own Conflicts/Breaks hit a package the hosts keep: held back when it scores no higher,
    // else that package is removed
    for (const p of [...marked.values()].sort((a, b) => score(b.name) - score(a.name))) {
      for (const q of conflictsOf(p)) {
        if (marked.has(q.name) || installed.get(q.name) !== q || removedFromHosts.has(q.name) || marked.get(p.name) !== p) continue;
        if (!protectedNames.has(p.name) && score(p.name) <= score(q.name)) {
          drop(p.name);
          changed = true;
        } else removedFromHosts.set(q.name, `${[...(chains.get(p.name) ?? []), `${p.name} ${p.version}`].join(' -> ')} declares Conflicts/Breaks that ${q.name} ${q.version} on the hosts matches, and no upgrade of it clears them. apt would remove ${q.name}`);
      }
    }
    for (const p of clashing().sort((a, b) => score(b.name) - score(a.name))) {
      if (marked.get(p.name) !== p) continue;
      for (const { rel } of relationsOf(p).neg) {
        for (const q of installedFor(rel)) {
          if (q.name === p.name || marked.get(q.name) !== q || marked.get(p.name) !== p) continue;
          if (!protectedNames.has(p.name) && score(p.name) <= score(q.name)) drop(p.name);
          else if (!protectedNames.has(q.name)) drop(q.name);
          else continue;
          changed = true;
        }
      }
    }
    return changed;
  };
  /**
   * apt's Dependency::AllTargets for a relation, as package names: the package of that name when a version of
   * it matches, then the packages with a version that provides it (apt's provides list: the one it read
   * last first), the hosts' own included
   */
  const allTargets = (rel: Relation): string[] => {
    const names: string[] = [];
    if ([...(index.byName.get(rel.name) ?? []), ...(installed.has(rel.name) ? [installed.get(rel.name)!] : [])].some((v) => matches(v, rel))) names.push(rel.name);
    for (const v of [...(index.providers.get(rel.name) ?? [])].reverse()) if (provides(v, rel)) names.push(v.name);
    for (const q of installedProviders.get(rel.name) ?? []) if (provides(q, rel)) names.push(q.name);
    return [...new Set(names)];
  };
  /**
   * apt's protection as its problem resolver sees it: a package requested or protected while marking, or one
   * whose candidate a package being installed under protection Conflicts with or Breaks (apt keeps it out)
   */
  const resolverProtected = (name: string): boolean => {
    if (protectedNames.has(name)) return true;
    const c = candidate(name);
    return c !== undefined && [...guarded].some((g) => {
      const m = marked.get(g);
      return m !== undefined && m.name !== name && relationsOf(m).neg.some(({ rel }) => matches(c, rel) || provides(c, rel));
    });
  };
  /** the packages apt's problem resolver has re-instated or tried to (DoUpgrade clears their Upgradable flag) */
  const upgradeTried = new Set<string>();
  /**
   * apt's pkgProblemResolver::DoUpgrade: once per package, `name` is marked at its candidate (when that is
   * new or newer than the hosts'), without its Recommends and with no look at Conflicts or Breaks but those
   * hitting a protected package; then each Pre-Depends and Depends the install state leaves unmet: alternative
   * by alternative, the package it names (or the one package providing a virtual name) is re-instated so in
   * turn when its candidate meets it; none can (a protected one, a candidate that does not meet it) undoes
   * this package's mark (what the recursion re-instated stays). What the new marks break is left to the next
   * round of the resolver
   */
  const doUpgrade = (name: string, chain: string[]): boolean => {
    const c = candidate(name);
    const inst = installed.get(name);
    if (!c || (inst && compareDebVersions(c.version, inst.version) <= 0) || upgradeTried.has(name) || resolverProtected(name)) return false;
    upgradeTried.add(name);
    const before = marked.get(name);
    marked.set(name, c);
    const here = [...chain, `${c.name} ${c.version}`];
    if (!chains.has(name)) chains.set(name, chain);
    const r = relationsOf(c);
    let fail = r.neg.some(({ rel }) => installedFor(rel).some((q) => q.name !== name && resolverProtected(q.name)));
    for (const group of fail ? [] : [...r.pre, ...r.dep]) {
      for (const rel of group) {
        if (group.some(satisfied)) break;
        const target = smartTarget(rel.name, name);
        if (resolverProtected(target)) fail = true;
        else if (depCandidate(rel) && doUpgrade(target, here)) {
          fail = false;
          break;
        } else fail = true;
      }
      if (fail) break;
    }
    if (!fail) return true;
    // apt's MarkKeep when it was not being installed, else MarkDelete (for a package of the hosts: removed)
    marked.delete(name);
    if (before && inst) removedFromHosts.set(name, `${[...chain, `${c.name} ${c.version}`].join(' -> ')} cannot be installed with its dependencies, and apt's problem resolver then removes ${name} ${inst.version}`);
    return false;
  };
  /**
   * apt's SmartTargetPkg: the package of that name when it has versions, else the first package of its
   * provides list (the one apt read last) other than `owner`, whether or not others provide it too
   */
  const smartTarget = (name: string, owner: string): string => {
    if (index.byName.has(name) || installed.has(name)) return name;
    const provs = [...[...(index.providers.get(name) ?? [])].reverse().map((v) => v.name), ...(installedProviders.get(name) ?? []).map((q) => q.name)];
    return provs.find((n) => n !== owner) ?? name;
  };
  /** apt's DepCVer: a candidate (the package's, or a provider's) meets `rel` */
  const depCandidate = (rel: Relation): boolean => {
    const own = candidate(rel.name);
    if (own && matches(own, rel)) return true;
    return (index.providers.get(rel.name) ?? []).some((v) => candidate(v.name) === v && provides(v, rel));
  };
  /** packages of the hosts upgraded to clear a clash, their dependencies left to the pass after marking */
  const clearingUpgrades = new Set<string>();
  /** what apt's problem resolver took out of the install (held back, or removed for a clash) */
  const dropped = new Set<string>();

  /** why a group cannot be met: the deeper reason when its only package failed on its own dependencies */
  const unmet = (group: Relation[], chain: string[]): string =>
    group.length === 1 && failedWhy.has(group[0]!.name) && !clashes.has(failedWhy.get(group[0]!.name)!) ? failedWhy.get(group[0]!.name)! : explain(group, chain);

  const explain = (group: Relation[], chain: string[]): string => {
    const why = group.map((rel) => {
      const gone = failedWhy.get(rel.name);
      if (gone) return gone;
      const inst = installed.get(rel.name);
      const real = index.byName.get(rel.name)?.[0];
      if (inst && !real) return `the hosts have ${rel.name} ${inst.version}, which does not satisfy ${formatRelation(rel)}, and no source offers another version`;
      if (real) {
        if (rel.archQualifier === 'any' && real.multiArch !== 'allowed') return `${rel.name} ${real.version} is not Multi-Arch: allowed, so it cannot satisfy ${rel.name}:any`;
        return `the candidate ${rel.name} ${real.version} (from ${real.origin.suite}/${real.origin.component}) does not satisfy ${formatRelation(rel)}`;
      }
      const provs = index.providers.get(rel.name);
      if (provs?.length) return `${rel.name} is only provided by ${[...new Set(provs.map((p) => p.name))].join(', ')}, none with a matching version or installable`;
      return `no package named or providing ${rel.name} for ${index.arch} in the configured sources`;
    });
    return `cannot satisfy "${group.map(formatRelation).join(' | ')}" needed by ${chain.join(' -> ')}: ${[...new Set(why)].join('; ')}. Add the source that has it to upstreams.apt, or list it in apt_options.base if the hosts already have it.`;
  };

  /**
   * apt's test in SetCandidateRelease that a candidate would install as things are (its VersionState against
   * the install state: what the hosts have and the requested packages, marked by then): each of its
   * Pre-Depends and Depends met, and none of its Conflicts or Breaks hit
   */
  const installableNow = (c: Versioned): boolean => {
    if (!('origin' in c)) return true;
    const r = relationsOf(c);
    return [...r.pre, ...r.dep].every((group) => group.some(satisfied)) && !r.neg.some(({ rel }) => installedFor(rel).some((q) => q.name !== c.name));
  };
  /** apt's candidate version of `name`: the hosts' own when no upgrade is the candidate */
  const currentCandidate = (name: string): Versioned | undefined => originalCandidate(name) ?? installed.get(name);
  /**
   * apt's pkgDepCache::SetCandidateRelease, for a request `name/suite`: `ver` (of that suite) is the
   * candidate of its name; then each of its Pre-Depends and Depends (Recommends when they are installed) that
   * the candidates cannot meet (an alternative with no version constraint counts as met when its package
   * or a provider has a candidate) switches the first alternative whose version in the same suite meets it
   * to that version, and does the same for that version's own dependencies. When a Pre-Depends or Depends
   * cannot be met so, the switches made for `ver` are undone and the result is false (apt then goes on
   * with the candidates it has).
   */
  const setCandidateRelease = (ver: AptPackage, suite: string, changed: Array<{ name: string; prev: AptPackage | undefined }>): boolean => {
    const start = changed.length;
    /** undo the switches made since `from` */
    const undo = (from: number) => {
      for (const c of changed.splice(from).reverse()) {
        if (c.prev) chosenCandidates.set(c.name, c.prev);
        else chosenCandidates.delete(c.name);
      }
    };
    const r = relationsOf(ver);
    for (const [group, hard] of [...r.pre.map((g) => [g, true] as const), ...r.dep.map((g) => [g, true] as const), ...r.rec.map((g) => [g, false] as const)]) {
      const met = group.some((rel) => {
        const now = installed.get(rel.name);
        if (now && matches(now, rel)) return true;
        const provs = index.providers.get(rel.name) ?? [];
        if (!rel.op) return provs.length > 0 ? provs.some((p) => currentCandidate(p.name) === p && installableNow(p)) : currentCandidate(rel.name) !== undefined;
        const cand = currentCandidate(rel.name);
        return cand !== undefined && matches(cand, rel) && installableNow(cand);
      });
      if (met) continue;
      let switched = false;
      for (const rel of group) {
        // a new candidate cannot help a dependency without a version
        if (!rel.op) continue;
        const v = releaseVersionOf(index.byName.get(rel.name), suite);
        if (!v || !matches(v, rel)) continue;
        if (changed.some((c) => c.name === v.name) && chosenCandidates.get(v.name) === v) {
          switched = true;
          break;
        }
        const mark = changed.length;
        changed.push({ name: v.name, prev: chosenCandidates.get(v.name) });
        chosenCandidates.set(v.name, v);
        if (setCandidateRelease(v, suite, changed)) {
          switched = true;
          break;
        }
        undo(mark);
      }
      if (!switched && hard) {
        undo(start);
        return false;
      }
    }
    return true;
  };

  // apt-get marks every requested package first (at its candidate, the version asked, or the suite's), then
  // switches candidates for the `name/suite` requests (SetCandidateRelease, judged against what is marked by
  // then), then marks each request with its dependencies at its candidate as switched
  let rootPkgs: AptPackage[] = [];
  const suiteRoots: Array<{ p: AptPackage; suite: string }> = [];
  for (const root of effectiveRoots(roots, index)) {
    const p = findRoot(index, root, candidate, installed);
    if (!p) continue;
    const suite = requestedSuite(root);
    if (suite !== undefined) {
      chosenCandidates.set(p.name, p);
      suiteRoots.push({ p, suite });
    }
    const prev = marked.get(p.name);
    if (prev && prev !== p) throw new ResolveError(`${p.name} is requested at two versions (${prev.version} and ${p.version})`);
    marked.set(p.name, p);
    chains.set(p.name, []);
    protectedNames.add(p.name);
    rootPkgs.push(p);
  }
  for (const { p, suite } of suiteRoots) setCandidateRelease(p, suite, []);
  rootPkgs = rootPkgs.map((p) => {
    const switched = chosenCandidates.get(p.name);
    if (!switched || switched === p) return p;
    marked.set(p.name, switched);
    return switched;
  });
  for (const p of rootPkgs) markInstall(p, [], true);
  // apt-get then runs its pkgProblemResolver on what marking left broken. A package being installed whose
  // Pre-Depends or Depends nothing of the install state meets any more (a later package's Conflicts or
  // Breaks unmarked what met it) is held back, or when protected has the group's targets re-instated (doUpgrade). A package
  // the hosts have whose dependency the install broke (an upgrade no longer satisfies it, or took away a
  // Provides) is upgraded to its candidate when that installs, else the group's first solution that does
  for (let pass = 0, changed = true; changed && pass < 10; pass++) {
    changed = keepRemovedDependency();
    if (resolveClashes()) changed = true;
    for (const p of [...marked.values()]) {
      if (marked.get(p.name) !== p) continue;
      const r = relationsOf(p);
      for (const group of [...r.pre, ...r.dep]) {
        if (group.some(satisfied)) continue;
        // a package apt does not protect, whose dependencies marking followed, is held back (MarkKeep: not
        // installed, or left at the hosts' version)
        if (!protectedNames.has(p.name) && !clearingUpgrades.has(p.name)) {
          marked.delete(p.name);
          dropped.add(p.name);
          changed = true;
          break;
        }
        // a protected package: apt's resolver re-instates, alternative by alternative until the group is met,
        // the first package of the alternative's targets that it can (DoUpgrade)
        const chain = [...(chains.get(p.name) ?? []), `${p.name} ${p.version}`];
        for (const rel of group) {
          if (group.some(satisfied)) break;
          if (allTargets(rel).some((name) => doUpgrade(name, chain))) changed = true;
        }
      }
    }
    for (const q of installed.values()) {
      if (marked.has(q.name)) continue;
      const broken = groupsOfInstalled(q).find((group) => group.some(hostsSatisfy) && !group.some(satisfied));
      if (!broken) continue;
      const chain = [`${q.name} ${q.version} (on the hosts)`];
      const up = q.held ? undefined : originalCandidate(q.name);
      // else, in an or-group, the package an alternative names, when the hosts do not have it (apt's
      // FixByInstall: never a provider, nor an upgrade of another package of the hosts); otherwise apt removes q
      const fixes = broken.length < 2 ? [] : broken.map((rel) => (installed.has(rel.name) || dropped.has(rel.name) ? undefined : originalCandidate(rel.name))).filter((c): c is AptPackage => c !== undefined);
      if ((up && markInstall(up, chain, false)) || fixes.some((s) => markInstall(s, chain, false))) changed = true;
    }
  }

  // apt-get install then drops new packages that nothing needs any more ("a new install that is already
  // garbage"): what a failed attempt marked and the install no longer reaches from the requested packages,
  // the hosts' own and the Essential and Important packages being installed (apt's MarkRequired takes all
  // of them as roots), through the Pre-Depends, Depends and Recommends of what will be installed
  const reached = new Set<string>();
  const reach = (name: string) => {
    if (reached.has(name)) return;
    reached.add(name);
    const v = installVersion(name);
    if (!v) return;
    const needs = 'origin' in v ? [...relationsOf(v).pre, ...relationsOf(v).dep] : groupsOfInstalled(v);
    for (const group of [...needs, ...parseDependencies(v.recommends)]) for (const rel of group) for (const q of installedFor(rel)) reach(q.name);
  };
  for (const p of rootPkgs) reach(p.name);
  for (const name of installed.keys()) reach(name);
  for (const p of [...marked.values()]) if (flagsOf(p.name).essential || flagsOf(p.name).important) reach(p.name);
  for (const p of [...marked.values()]) if (!reached.has(p.name)) marked.delete(p.name);

  // what apt-get would call "unmet dependencies" and what dpkg would refuse
  const result = [...marked.values()];
  const chainOf = (p: Versioned) => {
    const c = chains.get(p.name);
    return c && marked.get(p.name) === p ? [...c, `${p.name} ${p.version}`].join(' -> ') : `${p.name} ${p.version} (on the hosts)`;
  };
  for (const p of result) {
    const r = relationsOf(p);
    for (const group of [...r.pre, ...r.dep]) {
      if (group.some(satisfied)) continue;
      // every alternative clashed with a package being installed: a conflict, not a missing package
      const clashed = group.map((rel) => failedWhy.get(rel.name)).filter((why) => why !== undefined && clashes.has(why));
      if (clashed.length === group.length) {
        throw new ResolveError(`no consistent set: ${chainOf(p)} depends on "${group.map(formatRelation).join(' | ')}", and ${[...new Set(clashed)].join('; ')}. apt would refuse this install; change the requested packages or their sources.`);
      }
      throw new ResolveError(unmet(group, chainOf(p).split(' -> ')));
    }
    for (const { rel, kind } of r.neg) {
      for (const q of installedFor(rel)) {
        if (q.name === p.name) continue;
        // a package the hosts keep (no candidate of it clears the clash): apt-get would remove it
        const why = marked.get(q.name) === q ? 'apt would refuse this install; change the requested packages or their sources' : `apt would remove ${q.name}; ferry does not remove packages from hosts`;
        throw new ResolveError(`no consistent set: ${chainOf(p)} declares ${kind}: ${formatRelation(rel)}, and ${chainOf(q)} matches it. ${why}.`);
      }
    }
  }
  for (const [name, why] of removedFromHosts) if (!marked.has(name)) throw new ResolveError(`no consistent set: ${why}; ferry does not remove packages from hosts.`);
  for (const q of installed.values()) {
    if (marked.has(q.name)) continue;
    for (const group of groupsOfInstalled(q)) {
      if (!group.some(hostsSatisfy) || group.some(satisfied)) continue;
      const moved = group.map((rel) => marked.get(rel.name)).filter((p): p is AptPackage => p !== undefined);
      const by = moved.length ? moved.map(chainOf).join(', ') : 'the closure';
      throw new ResolveError(`no consistent set: ${q.name} ${q.version} on the hosts depends on "${group.map(formatRelation).join(' | ')}", which ${by} no longer satisfies. apt would remove or upgrade ${q.name}; ferry does not remove packages from hosts.`);
    }
    for (const rel of negativesOf(q)) {
      for (const p of installedFor(rel)) {
        if (p.name === q.name || marked.get(p.name) !== p) continue;
        throw new ResolveError(`no consistent set: ${q.name} ${q.version} on the hosts declares Conflicts/Breaks: ${formatRelation(rel)}, and ${chainOf(p)} matches it. apt would remove or upgrade ${q.name}; ferry does not remove packages from hosts.`);
      }
    }
  }
  const rootNames = new Set(rootPkgs.map((p) => p.name));
  return result.filter((p) => rootNames.has(p.name) || installed.get(p.name)?.version !== p.version).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function priority(p: Versioned): number {
  // apt reads the word in any case (`Required` is required), an unknown one as extra
  return p.priority === undefined ? 0 : (PRIORITY[p.priority.toLowerCase()] ?? PRIORITY.extra!);
}

/**
 * The requests as apt-get takes them when one package is named more than once (`name:ARCH` of the architecture
 * resolved, `:native`, `:all` and `:any` name it too): a `name/suite` request wins
 * over `name` and `name=version` in any order, otherwise the later one wins (`p=1 p` installs p's candidate,
 * `p p=1` version 1); two suites for one package are refused.
 */
function effectiveRoots(roots: string[], index: PackageIndex): string[] {
  const arch = index.arch;
  const byName = new Map<string, string>();
  for (const root of roots) {
    // `name:ARCH` of the architecture resolved (or `:native`, `:all`, `:any`) is the same package as `name`
    const qualified = root.split('/', 1)[0]!.split('=', 1)[0]!;
    const [bare, qualifier] = qualified.split(':', 2) as [string, string | undefined];
    const suite = requestedSuite(root);
    // a `name/suite` whose suite has no version of name is the one package that provides name there
    // (findRoot): another package than `name`, so both requests stand
    const other = suite !== undefined && !releaseVersionOf(index.byName.get(bare), suite);
    const spec = other ? root : qualifier === undefined || qualifier === arch || ['native', 'all', 'any'].includes(qualifier) ? bare : qualified;
    const prev = byName.get(spec);
    if (prev === undefined || prev === root) {
      byName.set(spec, root);
      continue;
    }
    const prevSuite = requestedSuite(prev) !== undefined;
    if (prevSuite && requestedSuite(root) !== undefined) throw new ResolveError(`${spec} is requested from two suites (${prev} and ${root}): keep one`);
    if (!prevSuite) byName.set(spec, root);
  }
  return [...byName.values()];
}

/**
 * apt-get's fallback when `name/RELEASE` or `name=VERSION` finds no version of that name (tryVirtualPackage,
 * real packages too): the versions that provide `name` and come from that release (its Suite or Codename,
 * exactly) or provide it at exactly that version; taken when they are all of one package, the highest of them
 * (undefined when none, or more than one package, matches: apt-get then says the release or version was not found)
 */
function onlyProvider(index: PackageIndex, name: string, fits: (v: AptPackage) => boolean): AptPackage | undefined {
  const found = [...new Set((index.providers.get(name) ?? []).filter((v) => v.architecture === index.arch || v.architecture === 'all').filter(fits))];
  if (!found.length || found.some((v) => v.name !== found[0]!.name)) return undefined;
  return found.reduce((a, b) => (compareDebVersions(b.version, a.version) > 0 ? b : a));
}

/** The suite of a request `name/suite` (apt's `pkg/release`), else undefined. */
function requestedSuite(root: string): string | undefined {
  const slash = root.indexOf('/');
  return slash < 0 ? undefined : root.slice(slash + 1);
}

/**
 * A root ("name", "name=version", "name/suite", "name:arch") as a package of the index; undefined for
 * another architecture, or when the hosts have it and apt would install nothing. `name/suite` is the
 * highest version of name in that suite of upstreams.apt, whatever the suites' pins, as apt-get's
 * `pkg/release` picks it.
 */
function findRoot(
  index: PackageIndex,
  root: string,
  candidate: (name: string) => AptPackage | undefined,
  installed: ReadonlyMap<string, InstalledPackage>,
): AptPackage | undefined {
  const suite = requestedSuite(root);
  const [spec, version] = (suite === undefined ? root : root.slice(0, root.indexOf('/'))).split('=', 2) as [string, string | undefined];
  if (suite !== undefined && (version !== undefined || suite === '' || suite.includes('/'))) {
    throw new ResolveError(`${root}: name a package as name, name=version or name/suite (one suite of upstreams.apt)`);
  }
  // `name:arch` names a package of one architecture: resolved only when resolving that architecture
  // (`:all` is apt's native architecture, as `:native`)
  const [name, archQualifier] = spec.split(':', 2) as [string, string | undefined];
  if (archQualifier && archQualifier !== index.arch && archQualifier !== 'native' && archQualifier !== 'any' && archQualifier !== 'all') return undefined;
  if (version !== undefined) {
    const invalid = checkDebVersion(version);
    if (invalid) throw new ResolveError(`${root}: "${version}" is not a version dpkg accepts (${invalid})`);
  }
  const versions = index.byName.get(name);
  const inst = installed.get(name);
  if (suite !== undefined) {
    const inSuite = releaseVersionOf(versions, suite) ?? onlyProvider(index, name, (v) => (v.origin.releaseNames ?? [v.origin.suite]).includes(suite));
    if (inSuite) return inSuite;
    // each release by the names a request may give it (its Suite or Codename), with its highest version
    const releases = new Map<string, string>();
    for (const v of versions ?? []) {
      const names = [...new Set(v.origin.releaseNames ?? [v.origin.suite])].join(' or ') || `${v.origin.suite} (its Release names no Suite or Codename)`;
      if (!releases.has(names)) releases.set(names, v.version);
    }
    throw new ResolveError(releases.size ? `${root}: the suite ${suite} has no ${name} for ${index.arch} (${[...releases].map(([s, v]) => `${s} has ${v}`).join(', ')})` : `package ${name} is not in the configured sources for ${index.arch}`);
  }
  // the hosts have it and no upgrade is the candidate: carry their version; none when the sources do not
  // offer it (apt installs nothing: older versions are never taken, nor a NotAutomatic suite's newer one)
  // apt-get takes `name=version` by the version's text (`=3` does not find 0:3, nor `=2.0` find 2.00)
  let p = version
    ? (versions?.find((v) => v.version === version) ?? onlyProvider(index, name, (v) => v.provides.some((r) => r.name === name && r.version === version)))
    : (candidate(name) ?? (inst ? versions?.find((v) => compareDebVersions(v.version, inst.version) === 0) : versions?.[0]));
  if (!p && !version && inst) return undefined;
  if (!p && !version) {
    // a virtual package named directly: apt installs it only when exactly one package provides it
    const provs = [...new Set((index.providers.get(name) ?? []).filter((x) => index.byName.get(x.name)?.[0] === x))];
    if (provs.length === 1) p = provs[0];
    else if (provs.length > 1) throw new ResolveError(`${name} is a virtual package provided by ${provs.map((x) => x.name).join(', ')}: name one of them`);
  }
  if (!p) {
    const have = versions?.map((v) => v.version).join(', ');
    throw new ResolveError(have ? `${name}=${version} is not in the configured sources (available: ${have})` : `package ${name} is not in the configured sources for ${index.arch}`);
  }
  return p;
}
