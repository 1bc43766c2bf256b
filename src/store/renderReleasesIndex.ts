import type { ReleaseRef } from './readReleaseRefs.js';

/**
 * The JSON document served at /releases/: each release with its digest and the URLs of its tree.
 * ferry serve renders it per request; syncReleaseLinks writes the same bytes to
 * STORE/releases/index.json so that nginx serves an identical answer.
 */
export function renderReleasesIndex(releases: ReleaseRef[]): string {
  const body = {
    releases: releases.map((r) => ({
      name: r.name,
      version: r.version,
      digest: r.digest,
      url: `/releases/${encodeURIComponent(r.name)}/${encodeURIComponent(r.version)}/`,
      bundle_url: `/bundles/${r.digest}/`,
    })),
  };
  return JSON.stringify(body, null, 2) + '\n';
}
