import type { CdxBom, CdxComponent } from '../sbom/cycloneDx.js';
import { parsePurl } from '../sbom/purl.js';
import type { CarriedPackage } from './advisory.js';

/**
 * The Debian packages and wheels a bundle carries, as its SBOM lists them: every component with a
 * `pkg:deb` purl (name and full version, epoch included, and the source package and version Debian's
 * advisories are filed under: `ferry:deb:source`, `ferry:deb:source-version`) or a `pkg:pypi` purl,
 * at any depth. Those inside another component (the Debian packages installed in an mmdebstrap
 * rootfs) carry the path of the artifact they are in.
 */
export function carriedPackages(bom: CdxBom): CarriedPackage[] {
  const out: CarriedPackage[] = [];
  const walk = (c: CdxComponent, inside: string | undefined) => {
    const p = packageOf(c);
    if (p) out.push(inside === undefined ? p : { ...p, in: inside });
    for (const inner of c.components ?? []) walk(inner, inside ?? property(c, 'ferry:path') ?? c['bom-ref']);
  };
  for (const c of bom.components) walk(c, undefined);
  return out;
}

/**
 * The Debian release of a purl's `distro`: a release's own codename, or the codename of one of its update
 * suites, which a mirror's purls carry (`bookworm-security`, `bookworm-updates`, `bookworm-backports`,
 * `bookworm-proposed-updates`: advisories of bookworm apply to what they carry).
 */
function debianReleaseOf(distro: string): string {
  return distro.replace(/-(security|updates|proposed-updates|backports|backports-sloppy)$/, '');
}

/**
 * The Debian release the bundle's packages say they are from: the `distro` qualifier of its `pkg:deb` purls
 * (`targets.debian.suite` at build, a mirror suite's Codename), each taken to its release (debianReleaseOf),
 * when every one that has it names the same release. Undefined without one, or when they differ.
 */
export function sbomDebianSuite(bom: CdxBom): string | undefined {
  const seen = new Set<string>();
  const walk = (c: CdxComponent) => {
    const distro = c.purl?.startsWith('pkg:deb/') ? parsePurl(c.purl)?.qualifiers?.distro : undefined;
    if (distro !== undefined) seen.add(debianReleaseOf(distro));
    for (const inner of c.components ?? []) walk(inner);
  };
  for (const c of bom.components) walk(c);
  return seen.size === 1 ? [...seen][0] : undefined;
}

function packageOf(c: CdxComponent): CarriedPackage | undefined {
  const purl = c.purl === undefined ? undefined : parsePurl(c.purl);
  if (!purl?.version) return undefined;
  if (purl.type === 'pypi') return { kind: 'wheel', name: c.name || purl.name, version: purl.version };
  if (purl.type !== 'deb') return undefined;
  const source = property(c, 'ferry:deb:source');
  const sourceVersion = property(c, 'ferry:deb:source-version');
  return { kind: 'deb', name: purl.name, version: purl.version, ...(source && { source: { name: source, version: sourceVersion ?? purl.version } }) };
}

function property(c: CdxComponent, name: string): string | undefined {
  return c.properties?.find((p) => p.name === name)?.value;
}
