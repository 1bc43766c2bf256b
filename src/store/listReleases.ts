import { relative, sep } from 'node:path';
import { FerryError, StoreError } from '../errors.js';
import { readReleaseRefs } from './readReleaseRefs.js';
import { readStoredManifest } from './readStoredManifest.js';
import { storeLayout } from './storeLayout.js';
import { checkStoreFolders } from './checkStoreFolders.js';
import { compareReleaseAge } from './releaseOrder.js';

export interface Release {
  name: string;
  version: string;
  digest: string;
  epoch: string;
  services: string[];
  entries: number;
  bytes: number;
}

/** A release that cannot be read: a damaged ref, or a manifest that is missing, a link, or not its digest. */
export interface DamagedRelease {
  /** one line naming the file or release, what is wrong and what to do */
  message: string;
  /** the release name, when the damaged ref or manifest tells it */
  name?: string;
  version?: string;
  digest?: string;
  /** what made a readable ref's release unusable, so a command that asked for it fails with that error's exit code */
  error?: FerryError;
}

/**
 * Every NAME/VERSION ref of the store with a summary of its manifest, sorted by name, epoch, then version
 * (numbers as numbers: 10.0.0 after 9.0.0, as gc orders them). A
 * damaged release fails the listing, unless `onDamaged` is given: then it is reported there and left
 * out, so one damaged release does not hide the others. The store's own folders must be sound either way.
 */
export async function listReleases(storeDir: string, onDamaged?: (d: DamagedRelease) => void): Promise<Release[]> {
  const layout = storeLayout(storeDir);
  await checkStoreFolders(layout);
  const damaged = (d: DamagedRelease) => {
    if (!onDamaged) throw new StoreError(d.message);
    onDamaged(d);
  };
  const refs = await readReleaseRefs(layout.refs, (file, why) => {
    const name = relative(layout.refs, file).split(sep)[0];
    damaged({ message: `${file}: ${why}; fix or remove that ref`, ...(name && name !== '..' && { name }) });
  });
  const out: Release[] = [];
  for (const { name, version, digest } of refs) {
    let manifest;
    try {
      ({ manifest } = await readStoredManifest(storeDir, digest));
    } catch (err) {
      if (!onDamaged || !(err instanceof FerryError)) throw err;
      // the error keeps its kind (exit code) and gains the release it belongs to
      err.message = `release ${name}/${version}: ${err.message}`;
      onDamaged({ message: err.message, name, version, digest, error: err });
      continue;
    }
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
  return out.sort((a, b) => a.name.localeCompare(b.name) || compareReleaseAge(a, b));
}
