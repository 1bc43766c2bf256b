import { resolve, join } from 'node:path';
import { readStoredManifest } from './readStoredManifest.js';
import { resolveRelease } from './resolveRelease.js';
import type { Logger } from '../ui/log.js';
import { cloneGitBundle } from '../sources/git/cloneGitBundle.js';
import { findArtifact } from '../bundle/findArtifact.js';
import { installDirectoryAtomically } from './installDirectoryAtomically.js';
import { unpackRootfs } from '../sources/rootfs/unpackRootfs.js';

/** Where the marker lives: inside the rootfs' top folder; inside .git for a clone, so `git status` stays clean. */
export const ROOTFS_MARKER = '.ferry-extracted.json';
export const GIT_MARKER = '.git/ferry-extracted.json';

export interface ExtractResult {
  kind: 'rootfs' | 'git';
  name: string;
  /** the rootfs tarball's sha256, or the git commit */
  id: string;
  digest: string;
  to: string;
  /** false when `to` already held exactly this artifact */
  changed: boolean;
}

/**
 * Materialise one rootfs or git artifact of a stored release into a folder: a rootfs unpacked with
 * owners, modes and links as packed; a git artifact cloned at exactly its pinned commit. Idempotent:
 * a marker records what the folder holds, and a second run with the same artifact does nothing.
 * `ferry deploy`'s rootfs and git steps do the same on remote hosts as shell scripts
 * (src/deploy/steps), since hosts need no node; this is the runner-side and local version.
 */
export async function extractArtifact(opts: { store: string; release: string; artifact: string; to: string; force?: boolean; log: Logger }): Promise<ExtractResult> {
  const rel = await resolveRelease(opts.store, opts.release);
  const { manifest, dir } = await readStoredManifest(opts.store, rel.digest);
  const label = `release ${rel.name}/${rel.version} (${rel.digest})`;
  const found = findArtifact(manifest, opts.artifact, label);
  const to = resolve(opts.to);
  const file = join(dir, found.info.path);
  const markerBase = { kind: found.kind, name: found.name, release: `${rel.name}/${rel.version}`, bundle: rel.digest };
  const how =
    found.kind === 'rootfs'
      ? { id: found.info.sha256, markerPath: ROOTFS_MARKER, fill: (dir: string, i = found.info) => unpackRootfs(file, i.compression, i.sha256, dir) }
      : { id: found.info.commit, markerPath: GIT_MARKER, fill: (dir: string, i = found.info) => cloneGitBundle({ file, commit: i.commit, shallow: i.shallow, url: i.url, dir }) };
  const { id } = how;
  const result = await installDirectoryAtomically({ to, markerPath: how.markerPath, marker: { ...markerBase, id }, force: opts.force, fill: how.fill });
  if (result.swept > 0) opts.log.info(`removed ${result.swept} scratch folder(s) left by interrupted extracts beside ${to}`);
  opts.log.info(result.changed ? `${found.kind}/${found.name}: extracted ${id} into ${to}` : `${found.kind}/${found.name}: ${to} already holds ${id}`);
  return { kind: found.kind, name: found.name, id, digest: rel.digest, to, changed: result.changed };
}
