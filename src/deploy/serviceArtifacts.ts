import type { ManifestEntry } from '../bundle/manifest.js';
import type { Release } from '../store/loadRelease.js';

/**
 * The entries a host needs for one service: those the manifest assigns to it, plus the shared
 * repository indexes and key when the service has packages or wheels, and the OCI layout's index
 * when it has images (they belong to no one service).
 */
export function serviceArtifacts(release: Release, service: string): ManifestEntry[] {
  const entries = release.manifest.entries;
  const own = entries.filter((e) => e.services.includes(service));
  const usesApt = own.some((e) => e.kind === 'apt') || Boolean(release.manifest.services[service]?.install.some((s) => 'apt' in s));
  const usesPython = own.some((e) => e.kind === 'python');
  const usesImages = own.some((e) => e.kind === 'image');
  return entries.filter(
    (e) =>
      e.services.includes(service) ||
      (e.services.length === 0 && usesApt && (e.kind === 'apt-index' || e.kind === 'key')) ||
      (e.services.length === 0 && usesPython && e.kind === 'python-index') ||
      (e.services.length === 0 && usesImages && e.kind === 'image'),
  );
}
