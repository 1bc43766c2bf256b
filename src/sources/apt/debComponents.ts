import type { SbomComponent } from '../../sbom/sbomComponent.js';
import { debPurl } from '../../sbom/purl.js';
import { field } from './parseControl.js';
import { parseDependencies, type Relation } from './parseDependencies.js';
import { satisfiesRelation } from './satisfiesRelation.js';
import type { PublishedPackage } from './writeAptRepository.js';

/**
 * The SBOM components of the published .debs: name, version, architecture and source package from each
 * file's own control paragraph, its purl and sha256, and its Pre-Depends and Depends as the packages of
 * this same repository that meet them (for each OR-group, the first alternative met, as apt takes it;
 * a group nothing in the bundle meets is left out: the target's base system provides it). `dir` is
 * where the bundle carries the repository (a mirror's is mirrors/NAME/debian); `distroOf`, the Debian
 * release a package is of (the purl's distro qualifier): the Codename the repository publishes it under.
 */
export function debComponents(packages: readonly PublishedPackage[], servicesOf: (p: PublishedPackage) => string[], dir: string, distroOf: (p: PublishedPackage) => string): SbomComponent[] {
  const ref = (p: PublishedPackage) => debPurl(p.name, p.version, p.architecture, distroOf(p));
  const byName = new Map<string, PublishedPackage[]>();
  const providers = new Map<string, Array<{ p: PublishedPackage; version?: string }>>();
  for (const p of packages) {
    byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
    for (const group of parseDependencies(field(p.control, 'Provides'))) {
      for (const r of group) providers.set(r.name, [...(providers.get(r.name) ?? []), { p, version: r.op === '=' ? r.version : undefined }]);
    }
  }
  // a package of one architecture uses dependencies of its own architecture or `all`; an `all` package, any
  const fits = (from: PublishedPackage, to: PublishedPackage, r: Relation) =>
    from.architecture === 'all' || to.architecture === 'all' || to.architecture === from.architecture || r.archQualifier === 'any' || r.archQualifier === to.architecture;
  const meet = (from: PublishedPackage, r: Relation): PublishedPackage[] => {
    const real = (byName.get(r.name) ?? []).filter((to) => fits(from, to, r) && satisfiesRelation(to.version, r.op, r.version));
    if (real.length > 0) return real;
    // a virtual package: an unversioned relation takes any provider, a versioned one only `Provides: NAME (= V)` that meets it
    return (providers.get(r.name) ?? [])
      .filter(({ p: to, version }) => fits(from, to, r) && (r.op === undefined || (version !== undefined && satisfiesRelation(version, r.op, r.version))))
      .map(({ p: to }) => to);
  };

  return packages.map((p) => {
    const dependsOn = new Set<string>();
    for (const group of [...parseDependencies(field(p.control, 'Pre-Depends')), ...parseDependencies(field(p.control, 'Depends'))]) {
      for (const alt of group) {
        const met = meet(p, alt);
        if (met.length === 0) continue;
        for (const to of met) if (to !== p) dependsOn.add(ref(to));
        break;
      }
    }
    // "Source: NAME" or "Source: NAME (VERSION)" when the source version differs (a binNMU); absent: the package's own name
    const [, source = p.name, sourceVersion = p.version] = /^(\S+)(?:\s+\((\S+)\))?/.exec(field(p.control, 'Source') ?? '') ?? [];
    return {
      ref: ref(p),
      type: 'library',
      name: p.name,
      version: p.version,
      purl: ref(p),
      sha256: p.sha256,
      path: `${dir}/${p.poolPath}`,
      services: servicesOf(p),
      dependsOn: [...dependsOn].sort(),
      properties: [
        { name: 'ferry:deb:architecture', value: p.architecture },
        { name: 'ferry:deb:source', value: source },
        { name: 'ferry:deb:source-version', value: sourceVersion },
      ],
    };
  });
}
