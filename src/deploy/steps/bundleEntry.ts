import type { ManifestEntry } from '../../bundle/manifest.js';
import type { Release } from '../../store/loadRelease.js';

/** A step's `src` names a file of the service ("app.conf" = files/SERVICE/app.conf) or a bundle path ("files/x/y"). */
export function bundlePath(service: string, src: string): string {
  return /^(files|python|rootfs|git|apt|keys)\//.test(src) ? src : `files/${service}/${src}`;
}

export function bundleEntry(release: Release, service: string, src: string): ManifestEntry | undefined {
  const path = bundlePath(service, src);
  return release.manifest.entries.find((e) => e.path === path);
}
