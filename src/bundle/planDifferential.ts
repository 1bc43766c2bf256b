import type { Manifest, ManifestEntry } from './manifest.js';

export interface DifferentialPlan {
  /** paths the differential bundle leaves out: the base release already has their bytes */
  omitted: string[];
  /** entries it carries */
  carried: ManifestEntry[];
  carriedBytes: number;
  omittedBytes: number;
}

/**
 * Which entries of a new release a differential bundle over `base` must carry. Matching is by sha256,
 * not path: a package that moved, or a file two services share, is still not carried twice. Every entry
 * of the base counts, including those the base itself omitted, because importing the base put all of
 * them in the store as blobs.
 */
export function planDifferential(base: Manifest, entries: ManifestEntry[]): DifferentialPlan {
  const have = new Set(base.entries.map((e) => e.sha256));
  const plan: DifferentialPlan = { omitted: [], carried: [], carriedBytes: 0, omittedBytes: 0 };
  for (const e of entries) {
    if (have.has(e.sha256)) {
      plan.omitted.push(e.path);
      plan.omittedBytes += e.size;
    } else {
      plan.carried.push(e);
      plan.carriedBytes += e.size;
    }
  }
  return plan;
}
