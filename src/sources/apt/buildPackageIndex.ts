import { compareDebVersions } from './compareDebVersions.js';
import type { AptPackage } from './types.js';

/** All upstream packages by name and by the virtual names they provide, for one target architecture. */
export interface PackageIndex {
  arch: string;
  /** name -> versions, highest first (across every configured suite and component) */
  byName: Map<string, AptPackage[]>;
  /** virtual name -> packages providing it */
  providers: Map<string, AptPackage[]>;
}

/**
 * Keep the packages installable on `arch` (that architecture or `all`). Versions are sorted highest
 * first: like apt with default pins, the candidate is the highest version in any source.
 */
export function buildPackageIndex(packages: Iterable<AptPackage>, arch: string): PackageIndex {
  const byName = new Map<string, AptPackage[]>();
  const providers = new Map<string, AptPackage[]>();
  for (const p of packages) {
    if (p.architecture !== arch && p.architecture !== 'all') continue;
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
  return { arch, byName, providers };
}
