/**
 * How ferry tells the newer of two releases of one name: by epoch (the build date the manifest signs),
 * then by version with numbers compared as numbers (9.0.0 before 10.0.0, not after it as strings sort).
 * gc, list, rollback, /mirrors/NAME/ and the tags ferry serve answers all order releases this way.
 */
export function compareReleaseVersions(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

/**
 * Older epoch first, compared as instants: a manifest may write its epoch with a UTC offset
 * (`2026-11-25T09:00:00+05:00` is before `2026-11-25T05:00:00Z`), which compared as text sorts wrongly;
 * one instant written two ways is one epoch (the version decides).
 */
export function compareEpochs(a: string, b: string): number {
  return Date.parse(a) - Date.parse(b);
}

/** Older release first: epoch, then version (compareReleaseVersions). */
export function compareReleaseAge(a: { epoch: string; version: string }, b: { epoch: string; version: string }): number {
  return compareEpochs(a.epoch, b.epoch) || compareReleaseVersions(a.version, b.version);
}
