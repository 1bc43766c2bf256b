import pep440 from '@renovatebot/pep440';
import { IntegrityError, ResolveError } from '../../errors.js';
import { admitsPython } from './admitsPython.js';
import { sameVersion } from './sameVersion.js';
import { satisfiesSpecifier } from './satisfiesSpecifier.js';
import type { IndexFile } from './indexFile.js';
import type { Pin } from './parseRequirementsFile.js';
import { parseDistFilename, type SdistName, type WheelName } from './parseDistFilename.js';
import { joinProblems } from '../../util/oneLine.js';

export interface SelectOptions {
  /** target tags, best first (targetTags) */
  tags: string[];
  /** "3.11": checked against each file's Requires-Python, as pip does for --python-version */
  pythonVersion: string;
  allowSdist: boolean;
  /** the project page, for messages */
  page: string;
  /**
   * versions already tried and given up, with why: pip's resolver takes the best file of each version the
   * pin admits, highest version first (`==1.0` admits `1.0+cpu` and `1.0`), and moves on to the next
   * version when that file's METADATA excludes the target
   */
  skipVersions?: Map<string, string>;
}

export interface Selection {
  file: IndexFile;
  dist: WheelName | SdistName;
  /** things worth a warning (a yanked file used because it is pinned exactly) */
  warnings: string[];
}

/**
 * Choose the file pip on the target would install for a pin: among the files of exactly the pinned
 * version whose sha256 is pinned (or not given by the page) and whose Requires-Python admits the target,
 * prefer files whose page gives a (pinned) hash, then files that are not yanked (PEP 592: a yanked file is used only because the pin names its version exactly), then the wheel
 * whose best tag comes first in the target's tag order, then the highest build tag, then the one the
 * page lists last (as pip does). Sdists only when
 * allowed and no wheel fits. Fails with every file considered and why it was not taken: IntegrityError
 * when files of the version were left out for unpinned hashes (the upstream changed), else ResolveError.
 */
export function selectFile(pin: Pin, files: IndexFile[], opts: SelectOptions): Selection {
  const rank = new Map(opts.tags.map((t, i) => [t, i]));
  const rejected: string[] = [];
  const wheels: Array<{ file: IndexFile; dist: WheelName; rank: number; at: number }> = [];
  const sdists: Array<{ file: IndexFile; dist: SdistName }> = [];
  let ofVersion = 0;
  let unreviewed = 0;
  const versions = new Set<string>();
  for (const [at, file] of files.entries()) {
    const dist = parseDistFilename(file.filename, pin.project);
    if (!dist || dist.project !== pin.project) continue;
    versions.add(dist.version);
    if (!pinAdmits(pin, dist.version)) continue;
    ofVersion++;
    if (file.sha256 && !pin.hashes.includes(file.sha256)) {
      rejected.push(`${file.filename}: its sha256 ${file.sha256} is not among the pinned hashes`);
      unreviewed++;
      continue;
    }
    const skipped = opts.skipVersions?.get(dist.version);
    if (skipped !== undefined) {
      rejected.push(`${file.filename}: ${skipped}`);
      continue;
    }
    if (file.requiresPython && !admitsPython(file.requiresPython, opts.pythonVersion)) {
      rejected.push(`${file.filename}: Requires-Python ${file.requiresPython} excludes Python ${opts.pythonVersion}`);
      continue;
    }
    if (dist.kind === 'sdist') {
      if (opts.allowSdist) sdists.push({ file, dist });
      else rejected.push(`${file.filename}: a source distribution (set upstreams.python.allow_sdist: true to carry it; the host then builds it)`);
      continue;
    }
    const best = Math.min(...dist.tags.map((t) => rank.get(t.toLowerCase()) ?? Infinity));
    if (best === Infinity) rejected.push(`${file.filename}: its tags (${dist.tags.join(', ')}) do not fit the target`);
    else wheels.push({ file, dist, rank: best, at });
  }
  if (ofVersion === 0) {
    const offered = [...versions].sort((a, b) => newer(b, a) || compareStrings(a, b));
    throw new ResolveError(
      `${pin.where}: ${pin.name}==${pin.version}: ${opts.page} lists no file of this version` +
        (offered.length ? ` (it offers ${offered.slice(-10).join(', ')})` : ' (it lists no files of this project)') +
        '; fix the pin or the index',
    );
  }
  const yanked = (f: IndexFile) => (f.yanked === undefined ? 0 : 1);
  // pip ranks a file whose page hash is allowed before one the page gives no hash for, before all else
  // (files whose page hash is not pinned were left out above)
  const unhashed = (f: IndexFile) => (f.sha256 === undefined ? 1 : 0);
  wheels.sort(
    (a, b) =>
      unhashed(a.file) - unhashed(b.file) ||
      yanked(a.file) - yanked(b.file) ||
      // `==1.0` admits `1.0+cpu` and `1.0+cu118` too: pip takes the highest version first, then the best tag
      newer(a.dist.version, b.dist.version) ||
      a.rank - b.rank ||
      (b.dist.build?.number ?? -1) - (a.dist.build?.number ?? -1) ||
      compareStrings(b.dist.build?.rest ?? '', a.dist.build?.rest ?? '') ||
      // a tie in all else: pip's resolver takes the one the page lists last (it walks its sorted
      // candidates in reverse, and the sort is stable)
      b.at - a.at,
  );
  sdists.sort((a, b) => unhashed(a.file) - unhashed(b.file) || yanked(a.file) - yanked(b.file) || newer(a.dist.version, b.dist.version) || compareStrings(a.file.filename, b.file.filename));
  const chosen = wheels[0] ?? sdists[0];
  if (!chosen && unreviewed > 0) {
    // pip-compile --generate-hashes pins every file the release had: a file it did not pin was replaced
    // or added since, and nobody has looked at those bytes
    throw new IntegrityError(
      `${pin.where}: ${pin.name}==${pin.version}: the upstream offers bytes that were not reviewed. No file whose sha256 is pinned fits the target; ${opts.page} lists: ` +
        joinProblems(rejected) +
        '. Find out why the upstream changed (files of a published release should never change) before trusting them; ' +
        'only once the new files are reviewed, recompile the hashes (pip-compile --generate-hashes).',
    );
  }
  if (!chosen) {
    throw new ResolveError(
      `${pin.where}: no file of ${pin.name}==${pin.version} fits the target (best tag ${opts.tags[0]}, Python ${opts.pythonVersion}): ` +
        joinProblems(rejected) +
        '. Pin a version that has a wheel for the target, or change targets.python.',
    );
  }
  const warnings: string[] = [];
  if (chosen.file.yanked !== undefined) {
    warnings.push(`${pin.where}: ${chosen.file.filename} is yanked${chosen.file.yanked ? ` (${chosen.file.yanked})` : ''}; used because the requirements pin ${pin.name}==${pin.version} exactly`);
  }
  return { file: chosen.file, dist: chosen.dist, warnings };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Whether a file's version is the pinned one, as pip reads the pin: `==V` is PEP 440 equality, under which a
 * local label on the file counts only when V has one (`torch==2.1.0` admits `2.1.0+cpu`); `===V` is the
 * version string itself (case-insensitive), `1.0` not `1.0.0`.
 */
export function pinAdmits(pin: Pin, version: string): boolean {
  return satisfiesSpecifier(version, `${pin.arbitrary ? '===' : '=='}${pin.version}`) ?? sameVersion(version, pin.version);
}

/** Higher PEP 440 version first; 0 for versions it cannot read. */
function newer(a: string, b: string): number {
  if (a === b) return 0;
  try {
    return pep440.valid(a) && pep440.valid(b) ? pep440.compare(b, a) : 0;
  } catch {
    return 0;
  }
}
