import pep440 from '@renovatebot/pep440';
import pMap from 'p-map';
import type { BuildContext } from '../kind.js';
import type { PythonMirror } from '../../specfile/schema.js';
import { IntegrityError, ResolveError, SpecError } from '../../errors.js';
import { fetchToCache } from '../../fetch/fetchToCache.js';
import { admitsPython } from './admitsPython.js';
import { contentLength } from './contentLength.js';
import { satisfiesSpecifier } from './satisfiesSpecifier.js';
import { evaluateMarker, uncertainVariableNote, type MarkerEnvironment } from './evaluateMarker.js';
import type { IndexFile } from './indexFile.js';
import { markerEnvironment } from './markerEnvironment.js';
import { parseCoreMetadata } from './parseCoreMetadata.js';
import { parseDistFilename } from './parseDistFilename.js';
import { normalizeProjectName } from './normalizeProjectName.js';
import { parseRequirement, type Requirement } from './parseRequirement.js';
import { readDistMetadata } from './readDistMetadata.js';
import type { LockedPythonFile } from './lockPython.js';
import { readProjectPage, type ProjectPage } from './readProjectPage.js';
import { sameVersion } from './sameVersion.js';
import { quoteInput } from '../../util/oneLine.js';
import { indexLocation } from './indexLocation.js';
import { targetTags, type PythonTarget } from './targetTags.js';

/** One file of a Python mirror in SPEC.lock.json: a service's locked file without the services. */
export type LockedMirrorFile = Omit<LockedPythonFile, 'services'>;

export interface PythonMirrorLock {
  index: string;
  projects: string[];
  targets: PythonTarget[];
  sdists: boolean;
  /** the newest PEP 700 upload time the index's pages gave when the lock read them (ISO); absent when no page dated its files */
  locked_at?: string;
  files: LockedMirrorFile[];
}

/** Safe as one path component of the bundle (mirrors/NAME/files/FILE). */
export const SAFE_DIST_FILENAME = /^[A-Za-z0-9][A-Za-z0-9._+!-]*$/;

export interface Candidate {
  /** normalized */
  project: string;
  file: IndexFile;
  kind: 'wheel' | 'sdist';
  version: string;
  tags: string[];
}

/** One target of a mirror, with what choosing files for it needs. */
export interface MirrorTarget {
  target: PythonTarget;
  rank: Map<string, number>;
  env: MarkerEnvironment;
  /** "python 3.11, manylinux_2_36_x86_64", for messages */
  label: string;
}

/** One release kept for one target, and how it was reached. */
interface Kept {
  project: string;
  version: string;
  target: MirrorTarget;
  extras: string[];
  /** "django 4.2.1" or "app 2.0 -> lib 1.3": the releases that led here */
  chain: string;
}

/**
 * Pin one Python mirror: for each target, every release of each named project that its specifier admits
 * and that has a file for the target, then (transitively) for each kept release the newest release of each
 * dependency (its markers evaluated for the target, with the extras asked for) that satisfies the
 * dependency's specifier and has a file for the target. Yanked files only for exact pins (PEP 592).
 * The files pinned are those of each kept release that fit a target it was kept for (sdists when the
 * mirror carries them). A requirement nothing satisfies fails the lock, naming the chain that needs it.
 */
export async function lockPythonMirror(name: string, mirror: PythonMirror, ctx: BuildContext): Promise<PythonMirrorLock> {
  const { chosen, releases, newestUpload } = await selectMirror(name, mirror, ctx);
  const files = await pMap(
    chosen,
    async (c): Promise<LockedMirrorFile> => {
      const { sha256, size } = await pinBytes(c.file, ctx);
      const out: LockedMirrorFile = { project: c.project, version: c.version, filename: c.file.filename, url: c.file.url, sha256, size, kind: c.kind };
      if (c.file.requiresPython) out.requires_python = c.file.requiresPython;
      if (c.file.yanked !== undefined) out.yanked = c.file.yanked;
      return out;
    },
    { concurrency: Math.max(1, ctx.jobs) },
  );
  ctx.log.info(`mirror ${name}: ${releases} releases, ${files.length} files for ${mirror.targets.length} target(s)`);
  const targets = mirrorTargets(mirror);
  return {
    index: indexLocation(mirror.index, ctx.baseDir),
    projects: [...mirror.projects],
    targets: targets.map((t) => t.target),
    sdists: mirror.sdists,
    // the index's clock, not this machine's: the newest upload the pages read gave (build --locked re-selects from the files uploaded by then)
    ...(newestUpload !== undefined ? { locked_at: new Date(newestUpload).toISOString() } : {}),
    files: files.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0)),
  };
}

/** What selectMirror chose, and what the pages it read say of their dates. */
export interface MirrorSelection {
  /** the files of the selection, each once */
  chosen: Candidate[];
  /** how many releases were kept */
  releases: number;
  /** the newest PEP 700 upload time (ms) of any file on the pages read (all files, before `uploadedBy`) */
  newestUpload?: number;
  /** the URL of the first page read that does not give every file an upload time (a PEP 503 HTML page, or JSON without PEP 700) */
  undated?: string;
}

/**
 * The selection of lockPythonMirror (see there), over the index's pages as they are read now, or, given
 * `uploadedBy`, over only their files uploaded by then (PEP 700): what a page gave at that time, when
 * every file on it is dated. `pages`, when given, is where pages are read from and kept (shared with checkListedByIndex);
 * `requiresDist`, a wheel's Requires-Dist when the caller has read it already (the build, from the fetched wheel).
 */
export async function selectMirror(
  name: string,
  mirror: PythonMirror,
  ctx: BuildContext,
  opts: { pages?: Map<string, Promise<ProjectPage>>; uploadedBy?: number; requiresDist?: (filename: string) => Promise<string[]> | undefined } = {},
): Promise<MirrorSelection> {
  const where = `mirrors.python.${name}`;
  const index = indexLocation(mirror.index, ctx.baseDir);
  const targets = mirrorTargets(mirror);
  const roots = mirrorRoots(where, mirror);
  const pageCache = opts.pages ?? new Map<string, Promise<ProjectPage>>();
  const dates: { newest?: number; undated?: string } = {};

  const pages = new Map<string, Promise<Candidate[]>>();
  const candidates = (project: string, neededBy: string) => {
    let p = pages.get(project);
    if (!p) {
      let page = pageCache.get(project);
      if (!page) {
        page = readProjectPage(index, project, { pinnedAt: neededBy, stats: ctx.fetchStats });
        pageCache.set(project, page);
      }
      p = page.then((read) => readCandidates(read, project, dates, opts.uploadedBy));
      pages.set(project, p);
    }
    return p;
  };
  const metadata = new Map<string, Promise<string[]>>();
  const requiresDist = (c: Candidate) => {
    let p = metadata.get(c.file.filename);
    if (!p) {
      p = opts.requiresDist?.(c.file.filename) ?? describeWheel(c, ctx);
      metadata.set(c.file.filename, p);
    }
    return p;
  };

  const fits = (c: Candidate, t: MirrorTarget) => fitsTarget({ kind: c.kind, tags: c.tags, requiresPython: c.file.requiresPython }, t, mirror.sdists);
  /**
   * versions admitted by the requirement that have a usable file for the target, newest first, as pip
   * 23.2's finder filters them (its packaging 21.3 SpecifierSet.filter): pre-releases when the specifier
   * names one, or when there is no specifier and no final release fits (with a specifier such as `>=1.5`
   * and only `2.0rc1` above it, pip finds nothing); yanked files only for an exact pin (`==`, `===`)
   */
  const usable = (all: Candidate[], req: Requirement, t: MirrorTarget) => {
    const exact = isExactPin(req.specifier);
    const fitting = all.filter((c) => fits(c, t) && admits(req.specifier, c.version));
    const finals = namesPrerelease(req.specifier) ? fitting : fitting.filter((c) => !isPrerelease(c.version));
    const versions = new Set<string>();
    for (const c of finals.length || req.specifier !== '' ? finals : fitting) if (c.file.yanked === undefined || exact) versions.add(c.version);
    return [...versions].sort(pep440.rcompare);
  };

  // per kept release: its targets, and whether a yanked file may come along (an exact pin reached it)
  const kept = new Map<string, { project: string; version: string; targets: Set<MirrorTarget>; yankedOk: boolean }>();
  const seen = new Set<string>();
  let level: Kept[] = [];
  const keep = (k: Kept, exact: boolean) => {
    const key = `${k.project}\0${k.version}`;
    const entry = kept.get(key) ?? { project: k.project, version: k.version, targets: new Set<MirrorTarget>(), yankedOk: false };
    entry.targets.add(k.target);
    entry.yankedOk ||= exact;
    kept.set(key, entry);
    const visit = `${key}\0${targets.indexOf(k.target)}\0${k.extras.join(',')}`;
    if (!seen.has(visit)) {
      seen.add(visit);
      level.push(k);
    }
  };

  for (const req of roots) {
    const all = await candidates(req.project, `${where}.projects`);
    for (const t of targets) {
      const versions = usable(all, req, t);
      if (versions.length === 0) throw noVersion(`${where}: ${req.name}${req.specifier}`, t, all.length);
      for (const version of versions) keep({ project: req.project, version, target: t, extras: req.extras.map((e) => e.toLowerCase()).sort(), chain: `${req.project} ${version}` }, isExactPin(req.specifier));
    }
  }
  const unknownWarned = new Set<string>();
  while (level.length) {
    const current = level;
    level = [];
    const found = await pMap(
      current,
      async (k) => {
        const all = await candidates(k.project, k.chain);
        const best = all
          .filter((c) => c.version === k.version && c.kind === 'wheel' && fits(c, k.target))
          .sort((a, b) => bestRank(a, k.target) - bestRank(b, k.target) || (a.file.filename < b.file.filename ? -1 : 1))[0];
        if (!best) return [];
        const next: Array<{ k: Kept; exact: boolean }> = [];
        for (const line of await requiresDist(best)) {
          const req = parseRequirement(line);
          if (!req) throw new IntegrityError(`${k.chain} (${best.file.filename}) declares a dependency ferry cannot read: ${JSON.stringify(line.slice(0, 200))}`);
          if (req.marker) {
            let applies: boolean;
            try {
              applies = evaluateMarker(req.marker, k.target.env, k.extras, (v) => {
                if (!unknownWarned.has(v)) ctx.log.warn(`${k.chain}: ${uncertainVariableNote(v, k.target.env)}`);
                unknownWarned.add(v);
              });
            } catch (err) {
              throw new IntegrityError(`${k.chain} -> ${req.name}: cannot evaluate marker ${quoteInput(req.marker, 200)}: ${(err as Error).message}`);
            }
            if (!applies) continue;
          }
          const needs = `${k.chain} needs ${req.name}${req.extras.length ? `[${req.extras.join(',')}]` : ''}${req.specifier}`;
          if (req.url) throw new ResolveError(`${needs} (${k.target.label}): a direct reference (${req.url}), which an index cannot serve`);
          const deps = await candidates(req.project, needs);
          const version = usable(deps, req, k.target)[0];
          if (version === undefined) throw noVersion(needs, k.target, deps.length);
          next.push({ k: { project: req.project, version, target: k.target, extras: req.extras.map((e) => e.toLowerCase()).sort(), chain: `${k.chain} -> ${req.project} ${version}` }, exact: isExactPin(req.specifier) });
        }
        return next;
      },
      { concurrency: Math.max(1, ctx.jobs) },
    );
    for (const list of found) for (const { k, exact } of list) keep(k, exact);
  }

  // the files of each kept release that fit a target it was kept for
  const chosen: Candidate[] = [];
  for (const { project, version, targets: ts, yankedOk } of [...kept.values()].sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : pep440.compare(a.version, b.version)))) {
    for (const c of await candidates(project, where)) {
      if (c.version !== version || (c.file.yanked !== undefined && !yankedOk)) continue;
      if (![...ts].some((t) => fits(c, t))) continue;
      if (!SAFE_DIST_FILENAME.test(c.file.filename)) throw new IntegrityError(`${c.file.url}: file name ${JSON.stringify(c.file.filename)} cannot be carried (letters, digits and . _ + ! - only)`);
      if (!chosen.some((o) => o.file.filename === c.file.filename)) chosen.push(c);
    }
  }
  return { chosen, releases: kept.size, newestUpload: dates.newest, undated: dates.undated };
}


/** The spec's targets of a mirror, in its order. */
export function mirrorTargets(mirror: PythonMirror): MirrorTarget[] {
  return mirror.targets.map((t) => {
    const target: PythonTarget = { version: t.version, implementation: t.implementation, abi: t.abi, platforms: t.platforms };
    return { target, rank: new Map(targetTags(target).map((tag, i) => [tag, i])), env: markerEnvironment(target), label: `python ${t.version}, ${t.platforms.join(' ')}` };
  });
}

/** The spec's projects of a mirror, read as requirements (`where`: mirrors.python.NAME, for messages). */
export function mirrorRoots(where: string, mirror: PythonMirror): Requirement[] {
  return mirror.projects.map((text) => {
    const req = parseRequirement(text);
    if (!req || req.url) throw new SpecError(`${where}.projects: "${text}" is not a requirement like "django>=4.2,<5" (a PEP 508 name, optional [extras] and version specifiers)`);
    if (req.marker) throw new SpecError(`${where}.projects: "${text}": markers are evaluated per target by ferry; leave them out`);
    return req;
  });
}

/** Whether a file may be installed on a target: its Requires-Python admits the target's, and a wheel has one of its tags (an sdist: when the mirror carries sdists). */
export function fitsTarget(file: { kind: 'wheel' | 'sdist'; tags: string[]; requiresPython?: string }, t: MirrorTarget, sdists: boolean): boolean {
  return (file.requiresPython === undefined || admitsPython(file.requiresPython, t.target.version)) && (file.kind === 'sdist' ? sdists : file.tags.some((tag) => t.rank.has(tag.toLowerCase())));
}

function bestRank(c: Candidate, t: MirrorTarget): number {
  return Math.min(...c.tags.map((tag) => t.rank.get(tag.toLowerCase()) ?? Infinity));
}

/** `==1.2` or `===1.2`: the one case a yanked file is still used (PEP 592). */
function isExactPin(specifier: string): boolean {
  return /^===?[^,*]+$/.test(specifier);
}

/** Whether a version satisfies a specifier, pre-releases included (SpecifierSet.contains with prereleases=True). */
export function admits(specifier: string, version: string): boolean {
  if (specifier === '') return true;
  try {
    return satisfiesSpecifier(version, specifier) ?? pep440.satisfies(version, specifier, { prereleases: true });
  } catch {
    return false;
  }
}

function isPrerelease(version: string): boolean {
  return Boolean(pep440.explain(version)?.is_prerelease);
}

/** packaging 21.3's Specifier.prereleases: a clause ==, ===, >=, <= or ~= whose version is a pre-release allows them all. */
function namesPrerelease(specifier: string): boolean {
  return specifier.split(',').some((clause) => {
    const m = /^\s*(===|==|>=|<=|~=)\s*(.+?)\s*$/.exec(clause);
    return m !== null && isPrerelease(m[2]!.replace(/\.\*$/, ''));
  });
}

function noVersion(needs: string, t: MirrorTarget, files: number): ResolveError {
  return new ResolveError(
    `${needs} (${t.label}): no version has a file for this target` +
      (files === 0 ? ' (the index lists no files of this project)' : '; widen the specifier, add the target\'s wheels upstream, or set sdists: true'),
  );
}

/**
 * The distribution files of one project page, with their versions (only those uploaded by `uploadedBy`, when
 * given and the file is dated; `dates` gathers the newest upload time and the first page with an undated file). A name that could leave its folder
 * ("..", "/", a control character) refuses the whole page: the index is hostile or broken. Files of
 * other projects, and versions that are not PEP 440, are passed over (as pip does).
 */
function readCandidates(page: ProjectPage, project: string, dates: { newest?: number; undated?: string }, uploadedBy?: number): Candidate[] {
  const out: Candidate[] = [];
  for (const file of page.files) {
    if (file.filename === '' || file.filename === '.' || file.filename === '..' || /[/\\\x00-\x1f\x7f]/.test(file.filename)) {
      throw new IntegrityError(`${page.url}: lists a file named ${JSON.stringify(file.filename)}, which is not a file name; refusing this index`);
    }
    if (file.uploadTime === undefined) dates.undated ??= page.url;
    else dates.newest = Math.max(dates.newest ?? file.uploadTime, file.uploadTime);
    if (uploadedBy !== undefined && file.uploadTime !== undefined && file.uploadTime > uploadedBy) continue;
    const dist = parseDistFilename(file.filename, project);
    if (!dist || dist.project !== project || pep440.valid(dist.version) === null) continue;
    out.push({ project, file, kind: dist.kind, version: pep440.clean(dist.version) ?? dist.version, tags: dist.kind === 'wheel' ? dist.tags : [] });
  }
  return out;
}

/** A wheel's Requires-Dist (PEP 658 metadata when offered, else from the wheel, downloaded into the cache and checked against the index's sha256). */
async function describeWheel(c: Candidate, ctx: BuildContext): Promise<string[]> {
  const md = await readDistMetadata(c.file, { cacheDir: ctx.cacheDir, log: ctx.log, stats: ctx.fetchStats, syncBatch: ctx.syncBatch });
  const meta = parseCoreMetadata(md.text);
  if (meta.name && normalizeProjectName(meta.name) !== c.project) {
    throw new IntegrityError(`${c.file.url}: its METADATA names project ${JSON.stringify(meta.name.slice(0, 100))}, not ${c.project}; the index is inconsistent`);
  }
  // the build reads the wheel's own METADATA and refuses another version (fetchMirrorSelection): so does the lock
  if (meta.version && !sameVersion(meta.version, c.version)) {
    throw new IntegrityError(`${c.file.url}: its METADATA names version ${quoteInput(meta.version, 100)}, not ${c.version}; the index is inconsistent`);
  }
  return meta.requiresDist ?? [];
}

/** sha256 and size of a file: from the index, a HEAD request, or (when the index gives no sha256) a download into the cache. */
async function pinBytes(file: IndexFile, ctx: BuildContext): Promise<{ sha256: string; size: number }> {
  if (file.sha256) {
    const size = file.size ?? (await contentLength(file.url));
    if (size !== undefined) return { sha256: file.sha256, size };
  }
  const got = await fetchToCache({ url: file.url, sha256: file.sha256, label: file.filename }, { cacheDir: ctx.cacheDir, log: ctx.log, stats: ctx.fetchStats, syncBatch: ctx.syncBatch });
  return { sha256: got.sha256, size: got.size };
}
