import pep440 from '@renovatebot/pep440';
import type { BuildContext } from '../kind.js';
import type { PythonMirror } from '../../specfile/schema.js';
import { IntegrityError } from '../../errors.js';
import { selectMirror, type PythonMirrorLock } from './lockPythonMirror.js';
import type { ProjectPage } from './readProjectPage.js';

/**
 * The lock must be exactly what ferry lock selects (selectMirror, the same code) from the index's files
 * uploaded by the lock's `locked_at` (PEP 700 upload-time, the index's own clock): a lock edited to leave
 * out a release or file the spec's filter selects (the fixed release of a vulnerable project), to hold a
 * dependency at an older release, or to add one is refused in one line (exit 67). Files uploaded since
 * are passed over, so an honest lock still builds after the index adds releases or files.
 *
 * Proven only when every page the selection reads dates every file (PEP 691 JSON with PEP 700): a PEP 503
 * HTML page gives no upload times, so the build cannot tell a file added since the lock from one the lock
 * dropped; it then says so in a log line and the per-file checks are all that hold. A lock without
 * `locked_at` (an earlier ferry's, or one edited to drop it) is refused when the pages are dated.
 * `read`: the pages the build read already (checkListedByIndex), and the Requires-Dist of the wheels it
 * fetched (their own METADATA), taken from there rather than asked of the index again.
 */
export async function checkComplete(
  name: string,
  lock: PythonMirrorLock,
  mirror: PythonMirror,
  ctx: BuildContext,
  read: { pages: Map<string, Promise<ProjectPage>>; requiresDist: (filename: string) => Promise<string[]> | undefined },
): Promise<void> {
  const { pages } = read;
  const where = `lock: mirrors.python.${name}`;
  const undated = (url: string) =>
    ctx.log.info(`mirror ${name}: the index's page ${url} does not give every file an upload time (PEP 700), so the build proves each locked file but not that the lock leaves out no release the spec selects`);
  // the pages of the lock's projects are read already: one without dates settles it without selecting again
  const first = (await Promise.all(pages.values())).find((p) => p.files.some((f) => f.uploadTime === undefined));
  if (first) return undated(first.url);
  const lockedAt = lock.locked_at === undefined ? undefined : Date.parse(lock.locked_at);
  const selected = await selectMirror(name, mirror, ctx, { pages, uploadedBy: lockedAt, requiresDist: read.requiresDist });
  if (selected.undated !== undefined) return undated(selected.undated);
  const refuse = (why: string) => new IntegrityError(`${where}: ${why}; run ferry lock again and review the diff`);
  if (lock.locked_at === undefined) throw refuse('the lock gives no locked_at (a lock of an earlier ferry, or edited), and the index dates its files (PEP 700), so the lock cannot be proven to leave out nothing the spec selects');
  const from = `from the index's files uploaded by ${lock.locked_at} (the lock's locked_at)`;
  const locked = new Set(lock.files.map((f) => f.filename));
  const wanted = new Set(selected.chosen.map((c) => c.file.filename));
  const missing = selected.chosen.filter((c) => !locked.has(c.file.filename)).sort((a, b) => (a.file.filename < b.file.filename ? -1 : 1))[0];
  if (missing) {
    const selectedVersions = new Set(selected.chosen.filter((c) => c.project === missing.project).map((c) => c.version));
    const older = lock.files.find((f) => f.project === missing.project && !selectedVersions.has(f.version) && pep440.lt(f.version, missing.version));
    if (older) throw refuse(`the lock holds back ${missing.project} at ${older.version}, where the spec's filter selects ${missing.version} (${missing.file.filename}) ${from}`);
    throw refuse(`the lock leaves out ${missing.file.filename} (${missing.project} ${missing.version}), which the spec's filter selects ${from}`);
  }
  const added = lock.files.find((f) => !wanted.has(f.filename));
  if (added) throw refuse(`the lock adds ${added.filename} (${added.project} ${added.version}), which the spec's filter does not select ${from}`);
  // an earlier locked_at gives an earlier state of the index, which the build cannot tell from the one locked: say which
  ctx.log.info(`mirror ${name}: the lock is all the spec's filter selects ${from}`);
}
