/**
 * How ferry tells the newer of two releases of one name: by epoch (the build date the manifest signs),
 * then by version with numbers compared as numbers (9.0.0 before 10.0.0, not after it as strings sort).
 * gc, list, rollback, /mirrors/NAME/ and the tags ferry serve answers all order releases this way.
 */
export function compareReleaseVersions(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

/** Older release first: epoch, then version (compareReleaseVersions). */
export function compareReleaseAge(a: { epoch: string; version: string }, b: { epoch: string; version: string }): number {
  return a.epoch.localeCompare(b.epoch) || compareReleaseVersions(a.version, b.version);
}
