import { StoreError } from '../errors.js';
import { listReleases, type Release as StoredRelease } from '../store/listReleases.js';

/**
 * The release to roll back to: the one of the same name just before (by epoch) the release the
 * hosts run now (the most common digest among their facts). A damaged release
 * of that name is an error (it might be the one to go back to); one of another name is passed over.
 */
export async function findPreviousRelease(store: string, name: string, running: string[]): Promise<StoredRelease> {
  // a damaged release of another name does not matter here; one of this name might be the previous one
  const releases = (
    await listReleases(store, (d) => {
      if (d.name === undefined || d.name === name) throw new StoreError(d.message);
    })
  ).filter((r) => r.name === name);
  if (releases.length === 0) throw new StoreError(`the store ${store} holds no release named ${name}`);
  if (running.length === 0) throw new StoreError(`no host's facts name a release of ${name}: there is nothing to roll back; deploy a release, or name one with --to`);
  const counts = new Map<string, number>();
  for (const d of running) counts.set(d, (counts.get(d) ?? 0) + 1);
  const current = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const at = releases.findIndex((r) => r.digest === current);
  if (at < 0) throw new StoreError(`the hosts run ${name} bundle ${current.slice(0, 12)}, which the store ${store} no longer holds; name the release to go back to with --to VERSION`);
  if (at === 0) throw new StoreError(`${name} ${releases[0]!.version} (${current.slice(0, 12)}) is the oldest release in the store ${store}: there is no previous one to roll back to`);
  return releases[at - 1]!;
}
