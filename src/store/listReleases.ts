import { StoreError } from '../errors.js';
import { readReleaseRefs } from './readReleaseRefs.js';
import { readStoredManifest } from './readStoredManifest.js';
import { storeLayout } from './storeLayout.js';
import { checkStoreFolders } from './checkStoreFolders.js';

export interface Release {
  name: string;
  version: string;
  digest: string;
  epoch: string;
  services: string[];
  entries: number;
  bytes: number;
}

/** Every NAME/VERSION ref of the store with a summary of its manifest, sorted by name then epoch. */
export async function listReleases(storeDir: string): Promise<Release[]> {
  const layout = storeLayout(storeDir);
  await checkStoreFolders(layout);
  const refs = await readReleaseRefs(layout.refs, (file, why) => {
    throw new StoreError(`${file}: ${why}; fix or remove that ref`);
  });
  const out: Release[] = [];
  for (const { name, version, digest } of refs) {
    const { manifest } = await readStoredManifest(storeDir, digest);
    out.push({
      name,
      version,
      digest,
      epoch: manifest.epoch,
      services: Object.keys(manifest.services).sort(),
      entries: manifest.entries.length,
      bytes: manifest.entries.reduce((n, e) => n + e.size, 0),
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.epoch.localeCompare(b.epoch) || a.version.localeCompare(b.version));
}
