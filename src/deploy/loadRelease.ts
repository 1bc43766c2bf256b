import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { type Manifest, manifestDigest, parseManifest } from '../bundle/manifest.js';

export interface Release {
  digest: string;
  manifest: Manifest;
  /** STORE/bundles/DIGEST: the bundle tree on the runner */
  dir: string;
}

export interface StoreRef {
  name: string;
  version: string;
  digest: string;
  /** when the ref was written (import time), used to order releases for rollback */
  mtimeMs: number;
}

/** Every STORE/refs/NAME/VERSION, oldest import first. */
export async function listRefs(store: string, name?: string): Promise<StoreRef[]> {
  const refsDir = join(store, 'refs');
  let names: string[];
  try {
    names = name ? [name] : await readdir(refsDir);
  } catch {
    return [];
  }
  const out: StoreRef[] = [];
  for (const n of names) {
    let versions: string[];
    try {
      versions = await readdir(join(refsDir, n));
    } catch {
      continue;
    }
    for (const v of versions) {
      const file = join(refsDir, n, v);
      const digest = (await readFile(file, 'utf8')).trim();
      if (!/^[0-9a-f]{64}$/.test(digest)) throw new StoreError(`${file}: expected a bundle digest (64 hex characters), found "${digest.slice(0, 80)}"; re-import the bundle`);
      out.push({ name: n, version: v, digest, mtimeMs: (await stat(file)).mtimeMs });
    }
  }
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.version < b.version ? -1 : 1));
}

/**
 * Find a release in the store: a bundle digest, NAME@VERSION (or NAME/VERSION), or NAME alone for
 * its latest import. The manifest is re-hashed: the digest names exactly these bytes.
 */
export async function loadRelease(store: string, ref: string): Promise<Release> {
  let digest: string;
  if (/^[0-9a-f]{64}$/.test(ref)) digest = ref;
  else {
    const [name, version] = ref.split(/[@/]/, 2) as [string, string | undefined];
    const refs = await listRefs(store, name);
    const hit = version ? refs.find((r) => r.version === version) : refs[refs.length - 1];
    if (!hit) {
      const known = (await listRefs(store)).map((r) => `${r.name}@${r.version}`);
      throw new StoreError(`release ${ref} is not in the store ${store}; ${known.length ? `it holds ${known.join(', ')}` : 'it holds no release yet: run ferry import first'}`);
    }
    digest = hit.digest;
  }
  const dir = join(store, 'bundles', digest);
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, 'manifest.json'));
  } catch {
    throw new StoreError(`bundle ${digest} is not in the store ${store} (no ${join(dir, 'manifest.json')}); import it first`);
  }
  const actual = manifestDigest(bytes);
  if (actual !== digest) throw new StoreError(`${join(dir, 'manifest.json')}: its sha256 is ${actual}, not the digest ${digest} it is stored under; the store is damaged, re-import the bundle`);
  return { digest, manifest: parseManifest(bytes, `bundle ${digest.slice(0, 12)}`), dir };
}
