import { PackageURL } from 'packageurl-js';

/**
 * Package URLs (github.com/package-url/purl-spec) through the reference library, so names and versions
 * are normalized and percent-encoded the way every other purl reader expects.
 */
export function debPurl(name: string, version: string, architecture: string, distro?: string): string {
  // qualifiers in key order, as the purl spec writes them (arch, then distro)
  return new PackageURL('deb', 'debian', name, version, { arch: architecture, ...(distro !== undefined && { distro }) }, undefined).toString();
}

/** A purl without one of its qualifiers (the same purl when it has none of that name or is not a purl). */
export function withoutQualifier(purl: string, key: string): string {
  try {
    const p = PackageURL.fromString(purl);
    if (!p.qualifiers || !(key in p.qualifiers)) return purl;
    const { [key]: _dropped, ...rest } = p.qualifiers;
    return new PackageURL(p.type, p.namespace, p.name, p.version, Object.keys(rest).length > 0 ? rest : undefined, p.subpath).toString();
  } catch {
    return purl;
  }
}

export function pypiPurl(project: string, version: string, fileName: string): string {
  return new PackageURL('pypi', undefined, project, version, { file_name: fileName }, undefined).toString();
}

/** A git repository pinned at a commit; vcs_url only for a real URL (a path on the build machine means nothing elsewhere). */
export function gitPurl(name: string, commit: string, url: string): string {
  const qualifiers = isUrl(url) ? { vcs_url: `git+${url}@${commit}` } : undefined;
  return new PackageURL('generic', undefined, name, commit, qualifiers, undefined).toString();
}

export function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i.test(s);
}

/** A purl's type, name, version and qualifiers, or undefined when it is not a valid purl. */
export function parsePurl(purl: string): { type: string; name: string; version?: string; qualifiers?: Record<string, string> } | undefined {
  try {
    const p = PackageURL.fromString(purl);
    return { type: p.type, name: p.name, ...(p.version != null && { version: p.version }), ...(p.qualifiers != null && { qualifiers: p.qualifiers }) };
  } catch {
    return undefined;
  }
}

/** An OCI image by its manifest (or index) digest: pkg:oci/NAME@sha256:HEX?repository_url=REGISTRY%2FREPOSITORY&tag=TAG (packageurl-js leaves the `:` as it is and percent-encodes the qualifier values). */
export function ociPurl(repository: string, digest: string, repositoryUrl: string, tag: string): string {
  return new PackageURL('oci', undefined, repository.split('/').pop()!, digest, { repository_url: repositoryUrl, tag }, undefined).toString();
}
