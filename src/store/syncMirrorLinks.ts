import { lstat, mkdir, readdir, readlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, StoreError, UsageError } from '../errors.js';
import { NAME_RE, NAME_RULE } from '../util/names.js';
import type { Manifest } from '../bundle/manifest.js';
import { isMissing } from '../util/isMissing.js';
import { checkStorePath } from './checkStorePath.js';
import { readReleaseRefs } from './readReleaseRefs.js';
import { readStoredManifest } from './readStoredManifest.js';
import { replaceLink } from './replaceLink.js';
import { REF_SEGMENT_RE, storeLayout } from './storeLayout.js';
import { compareReleaseAge } from './releaseOrder.js';
import { olderAptReleases, type OlderRelease } from './olderAptReleases.js';

export interface MirrorSnapshot {
  mirror: string;
  /** the name of the release that carries it */
  release: string;
  version: string;
  digest: string;
  epoch: string;
}

/** The mirror names a manifest carries (manifest.artifacts.mirror). */
export function mirrorNames(m: Manifest): string[] {
  return [...new Set([...Object.keys(m.artifacts.mirror?.apt ?? {}), ...Object.keys(m.artifacts.mirror?.python ?? {})])].sort();
}

/** Every mirror snapshot of the store: one per release that carries the mirror. */
export async function listMirrorSnapshots(store: string, onInvalid?: (file: string, why: string) => void): Promise<MirrorSnapshot[]> {
  const out: MirrorSnapshot[] = [];
  for (const { name, version, digest } of await readReleaseRefs(storeLayout(store).refs, onInvalid)) {
    let manifest;
    try {
      ({ manifest } = await readStoredManifest(store, digest));
    } catch (err) {
      // one damaged release does not keep the other releases' mirrors from being served
      if (!onInvalid || !(err instanceof FerryError)) throw err;
      onInvalid(join(storeLayout(store).refs, name, version), err.message);
      continue;
    }
    for (const mirror of mirrorNames(manifest)) out.push({ mirror, release: name, version, digest, epoch: manifest.epoch });
  }
  return out;
}

/**
 * Keep STORE/mirrors in step with STORE/refs:
 *   STORE/mirrors/NAME@VERSION -> ../bundles/DIGEST/mirrors/NAME   (every snapshot of the mirror's release name)
 *   STORE/mirrors/NAME -> NAME@VERSION                            (what /mirrors/NAME/ serves)
 * A mirror name belongs to one release name (mirrorOwners): only that release's snapshots are linked, so a
 * release of another name (signed by a key trusted for its own name only) cannot move /mirrors/NAME/ by a newer
 * epoch or take NAME@VERSION by carrying the same version; import refuses such a bundle (refuseForeignMirrors).
 * A mirror moves to the snapshot the release `imported` (a digest, newly added) carries when that is its newest by
 * epoch; otherwise it keeps the snapshot it points at (ferry mirror switch) while that exists, else it moves to the
 * newest. Links of snapshots whose release is gone are removed. Each link is replaced atomically (replaceLink).
 */
export async function syncMirrorLinks(store: string, opts: { imported?: string; onInvalid?: (file: string, why: string) => void } = {}): Promise<Array<{ mirror: string; from?: string; to: string }>> {
  const moved: Array<{ mirror: string; from?: string; to: string }> = [];
  const dir = storeLayout(store).mirrors;
  const snapshots = await listMirrorSnapshots(store, opts.onInvalid);
  await checkStorePath(dir, 'folder');
  const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (isMissing(err)) return [] as string[];
    throw err;
  });
  if (snapshots.length === 0 && existing.length === 0) return moved;
  await mkdir(dir, { recursive: true });

  const owners = await mirrorOwners(dir, snapshots);
  const wanted = new Map<string, string>();
  const byMirror = new Map<string, MirrorSnapshot[]>();
  const shared = sharedVersions(snapshots, owners);
  for (const [link, names] of shared) {
    const [mirror, version] = link.split('@');
    opts.onInvalid?.(join(dir, link), `releases ${names.join(', ')} all carry mirror ${mirror} as version ${version}: /mirrors/${link}/ serves ${names.length > 2 ? 'none of them' : 'neither'}; remove one of them (ferry gc, or its ref) to serve the other`);
  }
  for (const s of snapshots) {
    const { owner } = owners.get(s.mirror)!;
    // of a mirror no release name owns yet (releases of two names carry it), every snapshot stays linked so
    // that ferry mirror switch can choose; nothing is served until then
    if (owner !== undefined && s.release !== owner) continue;
    // but not a version snapshots of two names carry: NAME@VERSION would be whichever came last
    if (shared.has(`${s.mirror}@${s.version}`)) continue;
    wanted.set(`${s.mirror}@${s.version}`, snapshotTarget(s));
    byMirror.set(s.mirror, [...(byMirror.get(s.mirror) ?? []), s]);
  }
  for (const [link, target] of wanted) {
    if ((await readLinkIn(dir, link)) !== target) await replaceLink(join(dir, link), target);
  }
  for (const [mirror, list] of byMirror) {
    const { owner, carriers } = owners.get(mirror)!;
    if (owner === undefined) {
      opts.onInvalid?.(join(dir, mirror), `releases ${carriers.join(', ')} all carry mirror ${mirror}, which serves one release's snapshots: /mirrors/${mirror}/ serves none of them until ferry mirror switch ${mirror} VERSION chooses`);
      if ((await readLinkIn(dir, mirror)) !== undefined) await unlink(join(dir, mirror));
      continue;
    }
    const current = await readLinkIn(dir, mirror);
    const newest = list.sort((a, b) => compareReleaseAge(b, a))[0]!;
    // an operator's switch holds until a newer snapshot than every other arrives: not for an older one
    // imported late (out of order), nor for a bundle imported again
    if (current !== undefined && wanted.has(current) && newest.digest !== opts.imported) continue;
    if (current !== `${mirror}@${newest.version}`) {
      await replaceLink(join(dir, mirror), `${mirror}@${newest.version}`);
      moved.push({ mirror, ...(current?.startsWith(`${mirror}@`) ? { from: current.slice(mirror.length + 1) } : {}), to: newest.version });
    }
  }
  for (const name of existing) {
    if (name.startsWith('.') || wanted.has(name) || byMirror.has(name)) continue;
    if ((await lstat(join(dir, name))).isSymbolicLink()) await unlink(join(dir, name));
  }
  return moved;
}

/**
 * The release name each mirror belongs to. A signing policy trusts keys per release name; a mirror name is
 * not a release name, so without an owner any release with a good signature could serve its own packages
 * under /mirrors/debian/. The owner is the one release name whose releases carry the mirror; when several
 * do (two imports at once, or a store from before this rule), the release name of the snapshot
 * STORE/mirrors/NAME points at (ferry mirror switch sets it), else none.
 */
async function mirrorOwners(dir: string, snapshots: MirrorSnapshot[]): Promise<Map<string, { owner?: string; carriers: string[] }>> {
  const out = new Map<string, { owner?: string; carriers: string[] }>();
  for (const mirror of new Set(snapshots.map((s) => s.mirror))) {
    const mine = snapshots.filter((s) => s.mirror === mirror);
    const carriers = [...new Set(mine.map((s) => s.release))].sort();
    let owner = carriers.length === 1 ? carriers[0] : undefined;
    if (owner === undefined) {
      const current = await readLinkIn(dir, mirror);
      const target = current?.startsWith(`${mirror}@`) ? await readLinkIn(dir, current) : undefined;
      owner = mine.find((s) => `${mirror}@${s.version}` === current && snapshotTarget(s) === target)?.release;
    }
    out.set(mirror, { ...(owner !== undefined && { owner }), carriers });
  }
  return out;
}

/** Where STORE/mirrors/NAME@VERSION points for a snapshot (relative to STORE/mirrors). */
function snapshotTarget(s: MirrorSnapshot): string {
  return `../bundles/${s.digest}/mirrors/${s.mirror}`;
}

/**
 * Of mirrors no release name owns: each NAME@VERSION that snapshots of several release names carry (two imports
 * at once, each checked before the other's ref existed), with those names. Linked, it would name whichever
 * release sorts last, and ferry mirror switch NAME VERSION would hand the mirror to that name.
 */
function sharedVersions(snapshots: MirrorSnapshot[], owners: Map<string, { owner?: string }>): Map<string, string[]> {
  const names = new Map<string, Set<string>>();
  for (const s of snapshots) {
    if (owners.get(s.mirror)!.owner !== undefined) continue;
    const link = `${s.mirror}@${s.version}`;
    names.set(link, (names.get(link) ?? new Set()).add(s.release));
  }
  return new Map([...names].filter(([, n]) => n.size > 1).map(([link, n]) => [link, [...n].sort()]));
}

/**
 * Refuse (71), before anything is written, a bundle that carries a mirror another release name owns in the
 * store (mirrorOwners), or one that releases of several names carry while none is chosen.
 */
export async function refuseForeignMirrors(store: string, manifest: Manifest, label: string): Promise<void> {
  const carried = mirrorNames(manifest);
  if (carried.length === 0) return;
  // a damaged release is named by the import's own sync afterwards; it owns nothing here
  const snapshots = (await listMirrorSnapshots(store, () => {})).filter((s) => carried.includes(s.mirror));
  if (snapshots.length === 0) return;
  const owners = await mirrorOwners(storeLayout(store).mirrors, snapshots);
  for (const mirror of carried) {
    const o = owners.get(mirror);
    if (!o || o.owner === manifest.name) continue;
    const fix = o.owner === undefined ? `choose one with ferry mirror switch ${mirror} VERSION first` : `build it as a release of ${o.owner}, or remove ${o.owner}'s releases first`;
    throw new StoreError(
      `${label}: mirror ${mirror} belongs to release ${o.owner ?? o.carriers.join(' or ')} in this store; ${manifest.name} ${manifest.version} may not carry it (a mirror name belongs to one release name): ${fix}`,
    );
  }
}

/** Point /mirrors/NAME/ at the snapshot NAME@VERSION, atomically. */
export async function switchMirror(store: string, mirror: string, version: string): Promise<{ olderReleases: OlderRelease[] }> {
  // both become a link's name and target under STORE/mirrors: nothing that could point elsewhere
  if (!NAME_RE.test(mirror) || !REF_SEGMENT_RE.test(version)) throw new UsageError(`mirror ${JSON.stringify(mirror)} version ${JSON.stringify(version)}: expected a mirror name (${NAME_RULE}) and a release version`);
  const dir = storeLayout(store).mirrors;
  await checkStorePath(dir, 'folder');
  if ((await readLinkIn(dir, `${mirror}@${version}`)) === undefined) {
    const have = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(`${mirror}@`)).map((n) => n.slice(mirror.length + 1));
    throw new StoreError(`mirror ${mirror} has no snapshot ${version} in ${store}${have.length ? `; it has ${have.sort().join(', ')}` : ': import a bundle that carries it'}`);
  }
  const served = await readLinkIn(dir, mirror);
  // an apt mirror switched back: hosts keep the newer Release they have (olderAptReleases)
  const olderReleases = served === undefined || served === `${mirror}@${version}` ? [] : await olderAptReleases(join(dir, served), join(dir, `${mirror}@${version}`));
  await replaceLink(join(dir, mirror), `${mirror}@${version}`);
  return { olderReleases };
}

/** The target of a link STORE/mirrors/NAME, undefined when there is none; anything else there is refused. */
export async function readLinkIn(dir: string, name: string): Promise<string | undefined> {
  try {
    return await readlink(join(dir, name));
  } catch (err) {
    if (isMissing(err)) return undefined;
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') throw new StoreError(`${join(dir, name)} is not a symbolic link; move it away so ferry can manage STORE/mirrors`);
    throw err;
  }
}
