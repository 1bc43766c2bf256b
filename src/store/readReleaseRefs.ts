import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHA256_RE } from '../util/sha256.js';
import { isMissing } from '../util/isMissing.js';
import { REF_SEGMENT_RE } from './storeLayout.js';

export interface ReleaseRef {
  name: string;
  version: string;
  digest: string;
}

/**
 * Every release of the store, from STORE/refs/NAME/VERSION, sorted by name then version (code-unit order:
 * stable, not semantic). Entries that are not a valid name, version or digest are skipped and reported
 * through `onInvalid`, so one damaged ref does not hide the others. Dot-names are the scratch of atomic
 * writes (a ref being written right now) and are passed over silently.
 */
export async function readReleaseRefs(refsDir: string, onInvalid: (file: string, why: string) => void = () => {}): Promise<ReleaseRef[]> {
  const out: ReleaseRef[] = [];
  for (const name of await listDir(refsDir)) {
    if (name.startsWith('.')) continue;
    if (!REF_SEGMENT_RE.test(name)) {
      onInvalid(join(refsDir, name), 'not a release name');
      continue;
    }
    for (const version of await listDir(join(refsDir, name))) {
      if (version.startsWith('.')) continue;
      const file = join(refsDir, name, version);
      if (!REF_SEGMENT_RE.test(version)) {
        onInvalid(file, 'not a release version');
        continue;
      }
      let digest: string;
      try {
        digest = (await readFile(file, 'utf8')).trim();
      } catch (err) {
        onInvalid(file, (err as Error).message);
        continue;
      }
      if (!SHA256_RE.test(digest)) {
        onInvalid(file, 'does not hold a bundle digest');
        continue;
      }
      out.push({ name, version, digest });
    }
  }
  return out.sort((a, b) => (a.name === b.name ? cmp(a.version, b.version) : cmp(a.name, b.name)));
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
