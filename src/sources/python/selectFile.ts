import pep440 from '@renovatebot/pep440';
import { IntegrityError, ResolveError } from '../../errors.js';
import { admitsPython } from './admitsPython.js';
import { sameVersion } from './sameVersion.js';
import { satisfiesSpecifier } from './satisfiesSpecifier.js';
import type { IndexFile } from './indexFile.js';
import type { Pin } from './parseRequirementsFile.js';
import { parseDistFilename, type SdistName, type WheelName } from './parseDistFilename.js';
import { joinProblems } from '../../util/oneLine.js';
import { excludedFormat, type FormatControl } from './formatControl.js';
import { linkHashes, pageHashPinned } from './indexFile.js';

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
  /** the requirements file's --no-binary/--only-binary/--prefer-binary, as pip 23.2 obeys them */
  formats?: FormatControl;
}

export interface Selection {
  file: IndexFile;
  dist: WheelName | SdistName;
  /** things worth a warning (a yanked file used because it is pinned exactly) */
  warnings: string[];
}

/**
 * Choose the file pip on the target would install for a pin: among the files of exactly the pinned
 * version whose Requires-Python admits the target and whose tags fit it, the first of pipCandidates (files
 * that are not yanked, unless all are; those whose page hash is pinned first, then the highest version, the
 * best tag, the highest build tag, the one the page lists last). Sdists only when allowed, weighed with
 * the wheels as pip weighs them (an sdist after the wheels of its version). Fails with every file considered and why it was not taken: IntegrityError when the file pip would
 * take has a page hash that is not pinned, or when files of the version were left out for unpinned hashes
 * (the upstream changed), else ResolveError.
 */
export function selectFile(pin: Pin, files: IndexFile[], opts: SelectOptions): Selection {
  const rank = new Map(opts.tags.map((t, i) => [t, i]));
  const rejected: string[] = [];
  const wheels: Array<Candidate<WheelName>> = [];
  const sdists: Array<Candidate<SdistName>> = [];
  let ofVersion = 0;
  let unreviewed = 0;
  const versions = new Set<string>();
  for (const [at, file] of files.entries()) {
    const dist = parseDistFilename(file.filename, pin.project);
    if (!dist || dist.project !== pin.project) continue;
    versions.add(dist.version);
    if (!pinAdmits(pin, dist.version)) continue;
    ofVersion++;
    // pip's link evaluator drops a format the requirements file does not permit before it looks at hashes
    const excluded = excludedFormat(opts.formats, pin.project);
    if (excluded?.format === dist.kind) {
      rejected.push(`${file.filename}: ${excluded.because} permits no ${dist.kind === 'wheel' ? 'wheel' : 'source distribution'} of ${pin.name}`);
      continue;
    }
    // a file whose page hash is not pinned is still one of pip's candidates (see pipCandidates), but
    // nobody reviewed its bytes
    const unpinned = file.sha256 !== undefined && !pin.hashes.includes(file.sha256);
    if (unpinned) {
      rejected.push(`${file.filename}: its sha256 ${file.sha256} is not among the pinned hashes`);
      unreviewed++;
    }
    const why = (reason: string) => {
      if (!unpinned) rejected.push(`${file.filename}: ${reason}`);
    };
    if (file.requiresPython && !admitsPython(file.requiresPython, opts.pythonVersion)) {
      why(`Requires-Python ${file.requiresPython} excludes Python ${opts.pythonVersion}`);
      continue;
    }
    if (dist.kind === 'sdist') {
      if (opts.allowSdist) sdists.push({ file, dist, rank: Infinity, at });
      else why('a source distribution (set upstreams.python.allow_sdist: true to carry it; the host then builds it)');
      continue;
    }
    const best = Math.min(...dist.tags.map((t) => rank.get(t.toLowerCase()) ?? Infinity));
    if (best === Infinity) why(`its tags (${dist.tags.join(', ')}) do not fit the target`);
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
  // pip weighs wheels and sdists as one list (its finder's sort key): a yanked wheel loses to an sdist that is
  // not, the sdist of a higher admitted version (`1.0+local`) comes before the wheel of `1.0`, and only
  // then do wheels come before sdists (sdists are there only when allowed)
  const chosen = pipCandidates<WheelName | SdistName>(pin, [...wheels, ...sdists], rejected, opts.skipVersions, opts.formats?.preferBinary !== undefined)[0];
  // when no file that fits has a pinned page hash, pip weighs them all: it takes this one and refuses its hash
  const takesUnpinned = chosen?.file.sha256 !== undefined && !pin.hashes.includes(chosen.file.sha256);
  if (takesUnpinned || (!chosen && unreviewed > 0)) {
    // pip-compile --generate-hashes pins every file the release had: a file it did not pin was replaced
    // or added since, and nobody has looked at those bytes
    throw new IntegrityError(
      `${pin.where}: ${pin.name}==${pin.version}: the upstream offers bytes that were not reviewed. ` +
        'No file whose sha256 is pinned fits the target' +
        (takesUnpinned ? ` by the page's hashes, so the target's pip would weigh them all, take ${chosen.file.filename} and refuse its sha256` : '') +
        '; ' +
        `${opts.page} lists: ` +
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

interface Candidate<D extends WheelName | SdistName> {
  file: IndexFile;
  dist: D;
  /** the wheel's best tag in the target's order (Infinity for an sdist, which pip ranks below every wheel) */
  rank: number;
  /** its place on the page */
  at: number;
}

/**
 * The candidates of a pin in the order pip 23.2's resolver tries them, best first. Its finder keeps, when
 * some file's page hash is pinned, those files and the ones the page gives no hash for (when none is, it
 * keeps them all: filter_unallowed_hashes); then the resolver passes over yanked files unless every one is
 * (PEP 592), and over the versions it gave up (`skipVersions`, each version as PEP 440 compares them:
 * `1.0` is `1.0.0`). The order: files whose page hash is pinned first, then the highest version, the best
 * tag (an sdist after every wheel), the highest build tag, and the one the page lists last; with
 * --prefer-binary, wheels before sdists right after the pinned page hash. Wheels and sdists
 * are one list, as in pip's finder: what is yanked and whether some page hash is pinned count over both. Files left out are added to `rejected`.
 */
function pipCandidates<D extends WheelName | SdistName>(pin: Pin, candidates: Array<Candidate<D>>, rejected: string[], skipVersions?: Map<string, string>, preferBinary = false): Array<Candidate<D>> {
  // as pip compares them: any page hash equal, as written, to a pinned digest of its algorithm
  const allowed = (f: IndexFile) => (pageHashPinned(f, pin) ? 1 : 0);
  let kept = candidates;
  if (candidates.some((c) => allowed(c.file))) {
    kept = candidates.filter((c) => !linkHashes(c.file) || allowed(c.file));
    // those whose sha256 is not pinned are in `rejected` already
    for (const c of candidates) {
      if (!kept.includes(c) && (c.file.sha256 === undefined || pin.hashes.includes(c.file.sha256))) {
        rejected.push(`${c.file.filename}: its page hash (${Object.entries(linkHashes(c.file)!).map(([a, v]) => `${a}:${v}`).join(', ')}) is not a pinned digest as pip compares them (as written), and another file's is`);
      }
    }
  }
  if (kept.some((c) => c.file.yanked === undefined)) {
    for (const c of kept) if (c.file.yanked !== undefined) rejected.push(`${c.file.filename}: yanked${c.file.yanked ? ` (${c.file.yanked})` : ''}, and a file that is not fits`);
    kept = kept.filter((c) => c.file.yanked === undefined);
  }
  const skips = [...(skipVersions ?? [])];
  kept = kept.filter((c) => {
    const skipped = skips.find(([v]) => sameVersion(v, c.dist.version));
    if (skipped) rejected.push(`${c.file.filename}: ${skipped[1]}`);
    return !skipped;
  });
  const build = (d: WheelName | SdistName) => (d.kind === 'wheel' ? d.build : undefined);
  return kept.sort(
    (a, b) =>
      allowed(b.file) - allowed(a.file) ||
      // --prefer-binary: every wheel before every sdist, whatever their versions
      (preferBinary ? wheelFirst(a.dist) - wheelFirst(b.dist) : 0) ||
      // `==1.0` admits `1.0+cpu` and `1.0+cu118` too: pip takes the highest version first, then the best tag
      newer(a.dist.version, b.dist.version) ||
      a.rank - b.rank ||
      (build(b.dist)?.number ?? -1) - (build(a.dist)?.number ?? -1) ||
      compareStrings(build(b.dist)?.rest ?? '', build(a.dist)?.rest ?? '') ||
      // a tie in all else: pip's resolver takes the one the page lists last (it walks its sorted
      // candidates in reverse, and the sort is stable)
      b.at - a.at,
  );
}

function wheelFirst(d: WheelName | SdistName): number {
  return d.kind === 'wheel' ? 0 : 1;
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
