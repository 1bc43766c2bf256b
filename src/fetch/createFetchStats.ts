/**
 * Byte and file counters for downloads. "fetched" is what was read from an upstream (network, or a
 * local mirror through file://); "cached" is what the content-addressed cache answered without any
 * upstream traffic. A build proves "a second build downloads nothing" by `fetchedBytes === 0`.
 *
 * Stats nest: counts added to a child are added to its parent too, so a kind can count its own
 * calls while the build counts the total.
 */
export interface FetchStats {
  fetchedBytes: number;
  fetchedFiles: number;
  cachedBytes: number;
  cachedFiles: number;
  readonly parent?: FetchStats;
  /** called once, when the first fetched bytes are counted here (the build loads its signing keys then) */
  onFirstBytes?: () => void;
}

export function createFetchStats(parent?: FetchStats): FetchStats {
  return { fetchedBytes: 0, fetchedFiles: 0, cachedBytes: 0, cachedFiles: 0, parent };
}

/** Add to a stats object and all its ancestors. */
export function countFetch(stats: FetchStats | undefined, add: Partial<Omit<FetchStats, 'parent'>>): void {
  for (let s = stats; s; s = s.parent) {
    s.fetchedBytes += add.fetchedBytes ?? 0;
    s.fetchedFiles += add.fetchedFiles ?? 0;
    s.cachedBytes += add.cachedBytes ?? 0;
    s.cachedFiles += add.cachedFiles ?? 0;
    if (s.onFirstBytes && s.fetchedBytes > 0) {
      const first = s.onFirstBytes;
      s.onFirstBytes = undefined;
      first();
    }
  }
}
