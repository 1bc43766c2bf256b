import { lstat, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../util/writeFileAtomic.js';

export interface Marker {
  kind: string;
  name: string;
  /** what identifies the content: the rootfs tarball's sha256, the git commit */
  id: string;
  release?: string;
  bundle?: string;
}

/**
 * Make `to` hold a folder built by `fill`, idempotently and atomically. A marker file (inside `to`,
 * at `markerPath`) records what was put there: when it already names the same content, nothing is
 * done. Otherwise the folder is built beside `to` and swapped in with renames, so a failure or an
 * interruption leaves the old content whole, never a half-unpacked tree. A non-empty `to` that
 * ferry did not make is left alone unless `force` is given.
 */
export async function installDirectoryAtomically(opts: {
  to: string;
  markerPath: string;
  marker: Marker;
  force?: boolean;
  fill: (dir: string) => Promise<void>;
}): Promise<{ changed: boolean }> {
  const { to, markerPath, marker } = opts;
  const parent = dirname(to);
  // the swap renames TO itself: a link there would be replaced (or, dangling, make the rename fail), never followed
  const toStat = await lstat(to).catch(() => undefined);
  if (toStat?.isSymbolicLink()) throw new UsageError(`${to} is a symbolic link: ferry extract does not follow or replace one; give the folder itself as --to`);
  if (toStat && !toStat.isDirectory()) throw new UsageError(`${to} exists and is not a folder; choose another --to`);
  if (!toStat && !(await stat(parent).catch(() => undefined))?.isDirectory()) throw new UsageError(`${parent}, the folder that would hold ${to}, does not exist; make it first or choose another --to`);
  const existing = toStat && (await readMarker(join(to, markerPath)));
  if (existing && existing.kind === marker.kind && existing.id === marker.id && !opts.force) return { changed: false };
  if (toStat && !existing && !opts.force && (await readdir(to)).length > 0) {
    throw new UsageError(`${to} is not empty and was not made by ferry extract (no ${markerPath}); choose an empty or new folder, or pass --force to replace it`);
  }
  const tmp = await mkdtemp(join(parent, `.${basename(to)}.ferry-new-`));
  try {
    await opts.fill(tmp);
    // the marker is ferry's: whatever the content put at its name (a rootfs tarball may carry a folder there) goes
    await rm(join(tmp, markerPath), { recursive: true, force: true });
    await writeFileAtomic(join(tmp, markerPath), JSON.stringify(marker, null, 2) + '\n');
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  if (toStat) {
    const old = `${join(parent, `.${basename(to)}.ferry-old-`)}${process.pid}-${Date.now()}`;
    await rename(to, old);
    await rename(tmp, to);
    await rm(old, { recursive: true, force: true });
  } else {
    await rename(tmp, to);
  }
  return { changed: true };
}

async function readMarker(file: string): Promise<Marker | undefined> {
  try {
    const m = JSON.parse(await readFile(file, 'utf8')) as Marker;
    return typeof m.kind === 'string' && typeof m.id === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}
