import { ResolveError } from '../../errors.js';
import { compareDebVersions } from './compareDebVersions.js';
import type { PackageIndex } from './buildPackageIndex.js';
import { formatRelation, parseDependencies, type Relation } from './parseDependencies.js';
import { satisfiesRelation } from './satisfiesRelation.js';
import type { AptPackage } from './types.js';

export interface ResolveOptions {
  /** follow Recommends too (apt's default on hosts; off by default for bundles) */
  recommends: boolean;
  /** names the target hosts already have: dependencies on them count as satisfied */
  base: ReadonlySet<string>;
}

const PRIORITY_RANK: Record<string, number> = { required: 0, important: 1, standard: 2, optional: 3, extra: 4 };

/**
 * The dependency closure of `roots` ("name", "name=version", "name:arch") on one architecture, choosing what
 * `apt-get install --no-install-recommends` chooses on an empty system: every root is marked first,
 * then dependencies are followed depth first in the roots' order, Pre-Depends before Depends; an
 * OR-group already satisfied by a chosen package adds nothing, otherwise its first alternative with a
 * suitable candidate wins (a real package before the packages providing that name). Candidates are
 * the highest version in any configured source, as with apt's default pins.
 *
 * Unsatisfiable dependencies fail with the chain of packages that led to them.
 */
export function resolveAptClosure(index: PackageIndex, roots: string[], opts: ResolveOptions): AptPackage[] {
  const chosen = new Map<string, AptPackage>();
  const parsed = new Map<AptPackage, { pre: Relation[][]; dep: Relation[][]; rec: Relation[][] }>();
  const relationsOf = (p: AptPackage) => {
    let r = parsed.get(p);
    if (!r) {
      r = { pre: parseDependencies(p.preDepends), dep: parseDependencies(p.depends), rec: opts.recommends ? parseDependencies(p.recommends) : [] };
      parsed.set(p, r);
    }
    return r;
  };

  const candidate = (name: string): AptPackage | undefined => chosen.get(name) ?? index.byName.get(name)?.[0];

  const realMatches = (p: AptPackage, rel: Relation): boolean => {
    if (p.name !== rel.name) return false;
    // `name:any` only matches a package that allows it (Multi-Arch: allowed), like apt and dpkg
    if (rel.archQualifier === 'any' && p.multiArch !== 'allowed') return false;
    if (rel.archQualifier && rel.archQualifier !== 'any' && rel.archQualifier !== 'native' && rel.archQualifier !== index.arch) return false;
    return satisfiesRelation(p.version, rel.op, rel.version);
  };
  // Unversioned Provides satisfy only unversioned dependencies; versioned Provides (`foo (= 2)`) satisfy both.
  const provides = (p: AptPackage, rel: Relation): boolean =>
    p.provides.some((v) => v.name === rel.name && (!rel.op || (v.op === '=' && v.version !== undefined && satisfiesRelation(v.version, rel.op, rel.version))));

  const isSatisfied = (rel: Relation): boolean => {
    if (opts.base.has(rel.name)) return true;
    const real = chosen.get(rel.name);
    if (real && realMatches(real, rel)) return true;
    for (const p of index.providers.get(rel.name) ?? []) if (chosen.get(p.name) === p && provides(p, rel)) return true;
    return false;
  };

  const pick = (rel: Relation): AptPackage | undefined => {
    const real = candidate(rel.name);
    if (real && realMatches(real, rel)) return real;
    const providers: AptPackage[] = [];
    for (const p of index.providers.get(rel.name) ?? []) {
      if (candidate(p.name) === p && provides(p, rel) && !providers.includes(p)) providers.push(p);
    }
    providers.sort(
      (a, b) =>
        Number(b.essential) - Number(a.essential) ||
        (PRIORITY_RANK[a.priority ?? ''] ?? 5) - (PRIORITY_RANK[b.priority ?? ''] ?? 5) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    return providers[0];
  };

  const explain = (group: Relation[], chain: string[]): string => {
    const why = group.map((rel) => {
      const real = candidate(rel.name);
      if (real) {
        if (rel.archQualifier === 'any' && real.multiArch !== 'allowed') return `${rel.name} ${real.version} is not Multi-Arch: allowed, so it cannot satisfy ${rel.name}:any`;
        return `the candidate ${rel.name} ${real.version} (from ${real.origin.suite}/${real.origin.component}) does not satisfy ${formatRelation(rel)}`;
      }
      const provs = index.providers.get(rel.name);
      if (provs?.length) return `${rel.name} is only provided by ${[...new Set(provs.map((p) => p.name))].join(', ')}, none with a matching version`;
      return `no package named or providing ${rel.name} for ${index.arch} in the configured sources`;
    });
    return `cannot satisfy "${group.map(formatRelation).join(' | ')}" needed by ${chain.join(' -> ')}: ${why.join('; ')}. Add the source that has it to upstreams.apt, or list it in apt_options.base if the hosts already have it.`;
  };

  const visit = (p: AptPackage, chain: string[]) => {
    const r = relationsOf(p);
    const here = [...chain, `${p.name} ${p.version}`];
    for (const groups of [r.pre, r.dep, r.rec]) {
      const optional = groups === r.rec;
      for (const group of groups) {
        if (group.some(isSatisfied)) continue;
        let next: AptPackage | undefined;
        for (const rel of group) {
          next = pick(rel);
          if (next) break;
        }
        if (!next) {
          if (optional) continue; // apt skips Recommends it cannot satisfy
          throw new ResolveError(explain(group, here));
        }
        const already = chosen.get(next.name);
        if (already) {
          // the name is chosen at a version that does not fit this dependency: apt would report a conflict too
          if (optional) continue;
          throw new ResolveError(`${explain(group, here)} (${already.name} ${already.version} is already chosen)`);
        }
        chosen.set(next.name, next);
        visit(next, here);
      }
    }
  };

  const rootPkgs: AptPackage[] = [];
  for (const root of roots) {
    const [spec, version] = root.split('=', 2) as [string, string | undefined];
    // `name:arch` names a package of one architecture: resolved only when resolving that architecture
    const [name, archQualifier] = spec.split(':', 2) as [string, string | undefined];
    if (archQualifier && archQualifier !== index.arch && archQualifier !== 'native' && archQualifier !== 'any') continue;
    const versions = index.byName.get(name);
    let p = version ? versions?.find((v) => compareDebVersions(v.version, version) === 0) : versions?.[0];
    if (!p && !version) {
      // a virtual package named directly: apt installs it only when exactly one package provides it
      const provs = [...new Set((index.providers.get(name) ?? []).filter((x) => candidate(x.name) === x))];
      if (provs.length === 1) p = provs[0];
      else if (provs.length > 1) throw new ResolveError(`${name} is a virtual package provided by ${provs.map((x) => x.name).join(', ')}: name one of them`);
    }
    if (!p) {
      const have = versions?.map((v) => v.version).join(', ');
      throw new ResolveError(
        have ? `${name}=${version} is not in the configured sources (available: ${have})` : `package ${name} is not in the configured sources for ${index.arch}`,
      );
    }
    const prev = chosen.get(p.name);
    if (prev && prev !== p) throw new ResolveError(`${p.name} is requested at two versions (${prev.version} and ${p.version})`);
    chosen.set(p.name, p);
    rootPkgs.push(p);
  }
  for (const p of rootPkgs) visit(p, []);
  return [...chosen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
