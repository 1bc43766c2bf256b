import { IntegrityError, ResolveError } from '../../errors.js';
import { globMatches } from '../../util/globMatches.js';
import { quoteInput } from '../../util/oneLine.js';
import { indexPackedSources } from './buildPackageIndex.js';
import { compareDebVersions } from './compareDebVersions.js';
import type { PackedIndex } from './packedIndex.js';
import { resolveAptClosure } from './resolveAptClosure.js';
import type { AptPackage } from './types.js';
import type { AptMirror } from '../../specfile/schema.js';

/**
 * The packages a mirror carries from the upstream indexes: every package of its architectures (or
 * `all`) that the filter selects (by name or glob, section or priority; everything without a filter),
 * the newest `keep` versions of each name per suite, component and architecture; then, with
 * `with_dependencies`, what each selected package needs to install (Pre-Depends and Depends, resolved
 * like apt across every suite and component, one package at a time so that two selected packages that
 * conflict do not fail each other). A dependency lands in the suite and component it came from.
 * Fails loudly, naming the package, when a selected package cannot be installed from the upstream.
 */
export function selectMirrorPackages(indexes: readonly PackedIndex[], mirror: Pick<AptMirror, 'architectures' | 'filter' | 'keep'>, where: string): AptPackage[] {
  const archs = new Set([...mirror.architectures, 'all']);
  const f = mirror.filter;
  // matched directly, not as regular expressions: a glob of many stars backtracked over every split of
  // a long upstream name (util/globMatches.ts)
  const globs = f?.packages ?? [];
  const named = (name: string) => globs.some((g) => globMatches(g, name));
  const sections = new Set(f?.sections ?? []);
  const priorities = new Set(f?.priorities ?? []);
  const selects = (p: AptPackage) =>
    !f ||
    named(p.name) ||
    (p.section !== undefined && (sections.has(p.section) || sections.has(p.section.slice(p.section.lastIndexOf('/') + 1)))) ||
    (p.priority !== undefined && priorities.has(p.priority));
  const byFields = sections.size > 0 || priorities.size > 0;

  const groups = new Map<string, AptPackage[]>();
  for (const packed of indexes) {
    for (let i = 0; i < packed.count; i++) {
      if (!archs.has(packed.string(packed.archId(i)))) continue;
      // a filter by names alone decides from the packed name: only the packages it keeps are decoded
      if (f && !byFields && !named(packed.string(packed.nameId(i)))) continue;
      const p = packed.get(i);
      if (!selects(p)) continue;
      // apt sees an Architecture: all package as one of each architecture's: its versions compete with theirs
      for (const arch of p.architecture === 'all' ? mirror.architectures : [p.architecture]) {
        const key = `${p.origin.uri} ${p.origin.suite} ${p.origin.component} ${p.name} ${arch}`;
        groups.set(key, [...(groups.get(key) ?? []), p]);
      }
    }
  }
  const chosen = new Map<string, AptPackage>();
  const add = (p: AptPackage) => chosen.set(`${p.origin.suite} ${p.origin.component} ${p.filename} ${fileDigest(p)}`, p);
  const selected: AptPackage[] = [];
  for (const list of groups.values()) {
    // the newest `keep` versions, with every file the upstream lists for each: one version listed as two
    // different files is refused below (checkOnePoolFile), not settled by whichever the index lists last
    const versions = [...new Set(list.map((p) => p.version))].sort((a, b) => compareDebVersions(b, a)).slice(0, mirror.keep);
    const newest = [...new Map(list.filter((p) => versions.includes(p.version)).map((p) => [`${p.version} ${fileDigest(p)}`, p])).values()];
    for (const p of newest) {
      add(p);
      selected.push(p);
    }
  }

  if (f?.with_dependencies) {
    for (const arch of mirror.architectures) {
      const index = indexPackedSources(indexes, arch);
      // each selected version as a host would ask for it: the newest of its suite as `name/suite` (a host of
      // that suite alone installs it, so what it needs must come along, not only what the newest suite's
      // version needs); an older one that `keep` holds as `name=version`, best effort: apt-get itself may
      // refuse it alone (a sibling pinned to its exact version whose candidate is newer)
      const roots = new Map<string, boolean>();
      for (const p of selected) {
        if (p.architecture !== arch && p.architecture !== 'all') continue;
        const versions = index.byName.get(p.name) ?? [];
        // `name/RELEASE` names the suite by its Release's Suite (or Codename), as apt-get reads it; a suite
        // whose Release names none (or one with "/") is asked for as `name=version`, required when that
        // is the candidate (as `name` was)
        const release = p.origin.releaseNames?.[0];
        const newestInSuite = versions.find((v) => v.origin.suite === p.origin.suite);
        if (release !== undefined && !release.includes('/') && newestInSuite?.version === p.version) roots.set(`${p.name}/${release}`, true);
        else if (!roots.get(`${p.name}=${p.version}`)) roots.set(`${p.name}=${p.version}`, versions[0]?.version === p.version);
      }
      for (const [root, required] of [...roots].sort(([a], [b]) => cmp(a, b))) {
        let closure: AptPackage[];
        try {
          closure = resolveAptClosure(index, [root], { recommends: false, installed: new Map() });
        } catch (err) {
          if (!(err instanceof ResolveError)) throw err;
          if (!required) continue;
          throw new ResolveError(`${where} (${arch}): ${root.split(/[/=]/, 1)[0]}: ${err.message}`);
        }
        for (const p of closure) add(p);
      }
    }
  }
  const out = [...chosen.values()].sort(
    (a, b) => cmp(a.origin.suite, b.origin.suite) || cmp(a.origin.component, b.origin.component) || cmp(a.name, b.name) || cmp(a.architecture, b.architecture) || compareDebVersions(a.version, b.version),
  );
  checkOnePoolFile(out, where);
  return out;
}

/**
 * The mirror's pool (shared by its suites) has one file per component, package, version and architecture
 * (pool/COMPONENT/…/NAME_VERSION_ARCH.deb): an upstream that lists two different files for one of them (the
 * same version twice in an index, or rebuilt in another suite) cannot be published, so the lock stops here,
 * in one line, rather than every build of it (exit 67).
 */
function checkOnePoolFile(packages: readonly AptPackage[], where: string): void {
  const seen = new Map<string, AptPackage>();
  for (const p of packages) {
    const key = `${p.origin.component} ${p.name} ${p.version.replace(/^\d+:/, '')} ${p.architecture}`;
    const other = seen.get(key);
    // (a file one suite lists by SHA256 and another by SHA512 alone counts as two: nothing here can tell)
    if (other && fileDigest(other) !== fileDigest(p)) {
      throw new IntegrityError(
        `${where}: the upstream lists ${p.name} ${p.version} ${p.architecture} (${p.origin.component}) as two different files, ${quoteInput(other.filename, 200)} (${other.origin.suite}) and ${quoteInput(p.filename, 200)} (${p.origin.suite}); a mirror publishes one file per package version: fix the upstream or leave the package out of the filter`,
      );
    }
    seen.set(key, p);
  }
}

/** what names the file of `p` in its index: its SHA256, else the SHA512 of a stanza that gives only that */
function fileDigest(p: AptPackage): string {
  return p.sha256 || `sha512:${p.sha512}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
