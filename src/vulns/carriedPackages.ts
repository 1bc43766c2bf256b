import { basename } from 'node:path';
import type { Manifest } from '../bundle/manifest.js';
import type { CarriedPackage } from './advisory.js';

/**
 * The Debian packages and wheels a bundle carries: debs from the manifest's apt artifacts (name and
 * full version, epoch included: pool file names drop the epoch), wheels from their entry file names
 * (NAME-VERSION-TAGS.whl). The one place to switch to the bundle's SBOM (sbom.cdx.json) once every
 * bundle carries it: it also names the source package a Debian advisory is filed under.
 */
export function carriedPackages(manifest: Manifest): CarriedPackage[] {
  const out: CarriedPackage[] = [];
  const apt = manifest.artifacts.apt as { packages?: unknown } | undefined;
  for (const p of Array.isArray(apt?.packages) ? (apt.packages as unknown[]) : []) {
    const { name, version } = (p ?? {}) as { name?: unknown; version?: unknown };
    if (typeof name === 'string' && typeof version === 'string') out.push({ kind: 'deb', name, version });
  }
  for (const e of manifest.entries) {
    const whl = e.kind === 'python' ? /^([^-]+)-([^-]+)-.+\.whl$/.exec(basename(e.path)) : null;
    if (whl) out.push({ kind: 'wheel', name: whl[1]!, version: whl[2]! });
  }
  return out;
}
