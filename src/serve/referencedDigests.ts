import { readReleaseRefs } from '../store/readReleaseRefs.js';

/** Answers older than this are read again even when no change was reported (as the ref resolver's). */
const MAX_AGE_MS = 1000;

/**
 * Whether a ref of STORE/refs names a bundle digest: only a bundle some release names is served under
 * /bundles/DIGEST/. A tree without a ref is not a release (an import killed before its ref, a release whose
 * ref the operator removed, one gc is removing). The set is read again when the refs change (the ref
 * resolver's generation) and at most a second after the last read.
 */
export function createReferencedDigests(refsDir: string, generation: () => number): (digest: string) => Promise<boolean> {
  let current: { at: number; generation: number; digests: Promise<Set<string>> } | undefined;
  return async (digest) => {
    const now = Date.now();
    const gen = generation();
    if (!current || now - current.at >= MAX_AGE_MS || current.generation !== gen) {
      // a ref that cannot be read names nothing here (the releases index warns about it)
      const digests = readReleaseRefs(refsDir).then((refs) => new Set(refs.map((r) => r.digest)));
      const entry = { at: now, generation: gen, digests };
      current = entry;
      digests.catch(() => {
        if (current === entry) current = undefined;
      });
    }
    return (await current.digests).has(digest);
  };
}
