import { basename } from 'node:path';
import type { Manifest } from '../bundle/manifest.js';
import type { CarriedPackage } from './advisory.js';

/**
 * The Debian packages and wheels a bundle carries, read from its manifest's entry file names
 * (NAME_VERSION_ARCH.deb, with an epoch's ':' as '%3a'; NAME-VERSION-TAGS.whl). The one place to switch
 * to the bundle's SBOM (sbom.cdx.json) once every bundle carries it: it also names the source package
 * a Debian advisory is filed under.
 */
export function carriedPackages(manifest: Manifest): CarriedPackage[] {
  const out: CarriedPackage[] = [];
  for (const e of manifest.entries) {
    const file = basename(e.path);
    const deb = e.kind === 'apt' ? /^([^_]+)_([^_]+)_[^_]+\.deb$/.exec(file) : null;
    if (deb) out.push({ kind: 'deb', name: deb[1]!, version: decodeURIComponent(deb[2]!) });
    const whl = e.kind === 'python' ? /^([^-]+)-([^-]+)-.+\.whl$/.exec(file) : null;
    if (whl) out.push({ kind: 'wheel', name: whl[1]!, version: whl[2]! });
  }
  return out;
}
