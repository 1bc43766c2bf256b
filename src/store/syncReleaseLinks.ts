import { lstat, mkdir, readdir, readlink, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { isMissing } from '../util/isMissing.js';
import { readReleaseRefs } from './readReleaseRefs.js';
import { renderReleasesIndex } from './renderReleasesIndex.js';
import { writeFileAtomic } from '../util/writeFileAtomic.js';
import { storeLayout } from './storeLayout.js';
import { checkStorePath } from './checkStorePath.js';
import { replaceLink } from './replaceLink.js';

export interface LinkChanges {
  created: string[];
  updated: string[];
  removed: string[];
}

/** The file nginx serves at /releases/ (ferry serve renders the same bytes per request). */
export const RELEASES_INDEX_FILE = 'releases.json';

/**
 * Mirror STORE/refs as a symlink farm a plain static web server can follow:
 *   STORE/releases/NAME/VERSION -> ../../bundles/DIGEST
 * and write STORE/releases.json (the /releases/ listing). Each link is replaced atomically (a new
 * link renamed over the old one), so a web server sees the old or the new bundle, never a gap.
 * Links whose ref is gone are removed. Idempotent: run it after every import and gc.
 */
export async function syncReleaseLinks(store: string, onInvalid?: (file: string, why: string) => void): Promise<LinkChanges> {
  const layout = storeLayout(store);
  const releases = await readReleaseRefs(layout.refs, onInvalid);
  const linksDir = layout.releases;
  // the links are ferry's (each replaced or removed, never followed); the folders holding them must be real
  await checkStorePath(linksDir, 'folder');
  const changes: LinkChanges = { created: [], updated: [], removed: [] };
  const wanted = new Map(releases.map((r) => [`${r.name}/${r.version}`, `../../bundles/${r.digest}`]));

  for (const [key, target] of wanted) {
    const [name = '', version = ''] = key.split('/');
    const link = join(linksDir, name, version);
    await checkStorePath(join(linksDir, name), 'folder');
    const current = await readlink(link).catch((err: NodeJS.ErrnoException) => {
      if (isMissing(err)) return undefined;
      if (err.code === 'EINVAL') throw new StoreError(`${link} is not a symlink; move it away so ferry can manage STORE/releases`);
      throw err;
    });
    if (current === target) continue;
    await mkdir(join(linksDir, name), { recursive: true });
    await replaceLink(link, target);
    (current === undefined ? changes.created : changes.updated).push(key);
  }

  for (const name of await readdir(linksDir).catch(() => [] as string[])) {
    const dir = join(linksDir, name);
    if (!(await checkStorePath(dir, 'folder'))) continue;
    for (const version of await readdir(dir)) {
      const link = join(dir, version);
      if (wanted.has(`${name}/${version}`) || !(await lstat(link)).isSymbolicLink()) continue;
      await unlink(link);
      changes.removed.push(`${name}/${version}`);
    }
    await rmdir(dir).catch(() => {});
  }

  await writeFileAtomic(join(store, RELEASES_INDEX_FILE), renderReleasesIndex(releases));
  return changes;
}
