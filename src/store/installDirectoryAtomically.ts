import { randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { holdScratch } from '../util/holdScratch.js';
import { sweepDeadScratch } from '../util/sweepDeadScratch.js';
import { IDENTITY_PATTERN, ownIdentity } from '../util/processIdentity.js';
import { writeFileAtomic } from '../util/writeFileAtomic.js';
import { removeTree } from '../util/removeTree.js';

export interface Marker {
  kind: string;
  name: string;
  /** what identifies the content: the rootfs tarball's sha256, the git commit */
  id: string;
  release?: string;
  bundle?: string;
}

/** what scratchName names its folders (after `.TO.ferry-`), the maker's identity captured */
const SCRATCH_RE = new RegExp(`^(?:new|old)-${IDENTITY_PATTERN}-[0-9a-f]{8}$`);

/**
 * Make `to` hold a folder built by `fill`, idempotently and atomically. A marker file (inside `to`,
 * at `markerPath`) records what was put there: when it already names the same content, nothing is
 * done. Otherwise the folder is built beside `to` and swapped in with renames, so a failure or an
 * interruption leaves the old content whole, never a half-unpacked tree. A non-empty `to` that
 * ferry did not make is left alone unless `force` is given.
 *
 * The scratch folders beside `to` (`.TO.ferry-new-IDENTITY-RANDOM`, `.TO.ferry-old-IDENTITY-RANDOM`, util/processIdentity.ts) are removed
 * at exit when the process is stopped (util/holdScratch.ts); those a killed run left are removed by the
 * next run for the same `to` (`swept` counts them).
 */
export async function installDirectoryAtomically(opts: {
  to: string;
  markerPath: string;
  marker: Marker;
  force?: boolean;
  fill: (dir: string) => Promise<void>;
}): Promise<{ changed: boolean; swept: number }> {
  const { to, markerPath, marker } = opts;
  const parent = dirname(to);
  // the swap renames TO itself: a link there would be replaced (or, dangling, make the rename fail), never followed
  const toStat = await lstat(to).catch(() => undefined);
  if (toStat?.isSymbolicLink()) throw new UsageError(`${to} is a symbolic link: ferry extract does not follow or replace one; give the folder itself as --to`);
  if (toStat && !toStat.isDirectory()) throw new UsageError(`${to} exists and is not a folder; choose another --to`);
  if (!toStat && !(await stat(parent).catch(() => undefined))?.isDirectory()) throw new UsageError(`${parent}, the folder that would hold ${to}, does not exist; make it first or choose another --to`);
  // what a killed extract to the same TO left (scratchName's names)
  const prefix = `.${basename(to)}.ferry-`;
  const swept = await sweepDeadScratch(parent, (name) => (name.startsWith(prefix) ? SCRATCH_RE.exec(name.slice(prefix.length))?.[1] : undefined));
  const existing = toStat && (await readMarker(join(to, markerPath)));
  if (existing && existing.kind === marker.kind && existing.id === marker.id && !opts.force) return { changed: false, swept };
  if (toStat && !existing && !opts.force && (await readdir(to)).length > 0) {
    throw new UsageError(`${to} is not empty and was not made by ferry extract (no ${markerPath}); choose an empty or new folder, or pass --force to replace it`);
  }
  const tmp = scratchName(parent, basename(to), 'new');
  const releaseTmp = holdScratch(tmp);
  await mkdir(tmp);
  try {
    await opts.fill(tmp);
    // the marker is ferry's: whatever the content put at its name (a rootfs tarball may carry a folder there) goes
    await rm(join(tmp, markerPath), { recursive: true, force: true });
    await writeFileAtomic(join(tmp, markerPath), JSON.stringify(marker, null, 2) + '\n');
  } catch (err) {
    await removeTree(tmp);
    releaseTmp();
    throw err;
  }
  if (toStat) {
    const old = scratchName(parent, basename(to), 'old');
    const releaseOld = holdScratch(old);
    // in one turn of the event loop: a Ctrl-C or SIGTERM is handled before or after the swap, never
    // between its renames (only a SIGKILL exactly there leaves TO absent until the next run)
    renameSync(to, old);
    renameSync(tmp, to);
    releaseTmp();
    await removeTree(old);
    releaseOld();
  } else {
    await rename(tmp, to);
    releaseTmp();
  }
  return { changed: true, swept };
}

/** `.TO.ferry-KIND-IDENTITY-RANDOM` beside TO: the identity tells the next run whether its maker still runs (util/processIdentity.ts). */
function scratchName(parent: string, base: string, kind: 'new' | 'old'): string {
  return join(parent, `.${base}.ferry-${kind}-${ownIdentity()}-${randomBytes(4).toString('hex')}`);
}

async function readMarker(file: string): Promise<Marker | undefined> {
  try {
    const m = JSON.parse(await readFile(file, 'utf8')) as Marker;
    return typeof m.kind === 'string' && typeof m.id === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}
