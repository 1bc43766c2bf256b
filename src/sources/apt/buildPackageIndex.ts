import { compareDebVersions } from './compareDebVersions.js';
import type { AptPackage } from './types.js';

/** All upstream packages by name and by the virtual names they provide, for one target architecture. */
export interface PackageIndex {
  arch: string;
  /** name -> versions, highest first (across every configured suite and component) */
  byName: Map<string, AptPackage[]>;
  /** virtual name -> packages providing it */
  providers: Map<string, AptPackage[]>;
  /**
   * name -> the position apt's cache gives the package: names are numbered as apt first meets them
   * reading the indexes in order (the package itself, then the names in its Pre-Depends, Depends,
   * Conflicts, Breaks, Recommends, Suggests, Replaces, Enhances, Provides). apt's last tie-break
   * between providers prefers the higher number.
   */
  order: Map<string, number>;
}

const NAME_RE = /(?:^|[,|])\s*([a-z0-9][a-z0-9+.-]*)(:[a-z0-9-]+)?/gi;

/**
 * Keep the packages installable on `arch` (that architecture or `all`). Versions are sorted highest
 * first: like apt with default pins, the candidate is the highest version in any source.
 */
export function buildPackageIndex(packages: Iterable<AptPackage>, arch: string): PackageIndex {
  const byName = new Map<string, AptPackage[]>();
  const providers = new Map<string, AptPackage[]>();
  const order = new Map<string, number>();
  const meet = (name: string) => {
    if (!order.has(name)) order.set(name, order.size);
  };
  const meetAll = (field: string | undefined) => {
    if (!field) return;
    // `name:any` names an implicit package of its own in apt's cache, not `name`
    for (const m of field.matchAll(NAME_RE)) if (m[2] === undefined || m[2].toLowerCase() !== ':any') meet(m[1]!.toLowerCase());
  };
  for (const p of packages) {
    if (p.architecture !== arch && p.architecture !== 'all') continue;
    meet(p.name);
    for (const field of [p.preDepends, p.depends, p.conflicts, p.breaks, p.recommends, p.otherRelations]) meetAll(field);
    for (const prov of p.provides) meet(prov.name);
    const list = byName.get(p.name);
    if (list) list.push(p);
    else byName.set(p.name, [p]);
    for (const prov of p.provides) {
      const l = providers.get(prov.name);
      if (l) l.push(p);
      else providers.set(prov.name, [p]);
    }
  }
  for (const list of byName.values()) list.sort((a, b) => compareDebVersions(b.version, a.version));
  return { arch, byName, providers, order };
}
