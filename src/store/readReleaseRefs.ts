import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SHA256_RE } from '../util/sha256.js';
import { isMissing } from '../util/isMissing.js';
import { readRefText } from './readRef.js';
import { REF_SEGMENT_RE } from './storeLayout.js';

export interface ReleaseRef {
  name: string;
  version: string;
  digest: string;
}

/**
 * Every release of the store, from STORE/refs/NAME/VERSION, sorted by name then version (code-unit order:
 * stable, not semantic). Entries that are not a valid name, version or digest, and links (a ref is a
 * real folder holding regular files; a link is never followed), are skipped and reported through
 * `onInvalid`, so one damaged ref does not hide the others. Dot-names are the scratch of atomic and
 * exclusive writes (a ref being written right now) and are passed over silently.
 */
export async function readReleaseRefs(refsDir: string, onInvalid: (file: string, why: string) => void = () => {}): Promise<ReleaseRef[]> {
  const out: ReleaseRef[] = [];
  if ((await lstat(refsDir).catch(() => undefined))?.isSymbolicLink()) {
    onInvalid(refsDir, LINK);
    return out;
  }
  for (const name of await listDir(refsDir)) {
    if (name.name.startsWith('.')) continue;
    const dir = join(refsDir, name.name);
    if (!REF_SEGMENT_RE.test(name.name)) {
      onInvalid(dir, 'not a release name');
      continue;
    }
    if (!name.isDirectory()) {
      onInvalid(dir, name.isSymbolicLink() ? LINK : 'not a folder');
      continue;
    }
    for (const version of await listDir(dir)) {
      if (version.name.startsWith('.')) continue;
      const file = join(dir, version.name);
      if (!REF_SEGMENT_RE.test(version.name)) {
        onInvalid(file, 'not a release version');
        continue;
      }
      if (!version.isFile()) {
        onInvalid(file, version.isSymbolicLink() ? LINK : 'not a regular file');
        continue;
      }
      let digest: string;
      try {
        // readRefText opens with O_NOFOLLOW: a link swapped in since the listing is refused too
        digest = await readRefText(file);
      } catch (err) {
        onInvalid(file, (err as NodeJS.ErrnoException).code === 'ELOOP' ? LINK : (err as Error).message);
        continue;
      }
      if (!SHA256_RE.test(digest)) {
        onInvalid(file, 'does not hold a bundle digest');
        continue;
      }
      out.push({ name: name.name, version: version.name, digest });
    }
  }
  return out.sort((a, b) => (a.name === b.name ? cmp(a.version, b.version) : cmp(a.name, b.name)));
}

const LINK = 'is a symbolic link, which ferry does not follow inside its store';

async function listDir(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
