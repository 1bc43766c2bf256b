import pep440 from '@renovatebot/pep440';
import type { BuildContext } from '../kind.js';
import type { PythonMirror } from '../../specfile/schema.js';
import { IntegrityError, SpecError } from '../../errors.js';
import { fetchMany } from '../../fetch/fetchMany.js';
import type { FetchResult } from '../../fetch/fetchToCache.js';
import { lockMatchesSpec } from '../../specfile/lockMatchesSpec.js';
import { checkLockedFileUrls } from './checkLockedFileUrls.js';
import { checkListedByIndex } from './checkListedByIndex.js';
import type { ProjectPage } from './readProjectPage.js';
import { evaluateMarker } from './evaluateMarker.js';
import { indexLocation } from './indexLocation.js';
import { admits, fitsTarget, mirrorRoots, mirrorTargets, type MirrorTarget, type PythonMirrorLock } from './lockPythonMirror.js';
import { checkComplete } from './checkComplete.js';
import { normalizeProjectName } from './normalizeProjectName.js';
import { parseCoreMetadata } from './parseCoreMetadata.js';
import { parseDistFilename } from './parseDistFilename.js';
import { parseRequirement, type Requirement } from './parseRequirement.js';
import { readWheelFiles } from './readWheelMetadata.js';
import { checkWheelTags } from './checkWheelTags.js';
import { sameVersion } from './sameVersion.js';
import { quoteInput } from '../../util/oneLine.js';

/** One file of the lock, with its index there and the tags its name gives. */
interface Entry {
  at: number;
  project: string;
  version: string;
  filename: string;
  kind: 'wheel' | 'sdist';
  tags: string[];
  requiresPython?: string;
}

/**
 * Fetch a Python mirror's locked files (results in the lock's order), carrying only what the spec's
 * selection accounts for. The lock's index, projects, targets and sdists must be the spec's; each file
 * is what its name says (project, version, wheel or sdist), fetched from where a page of the index may
 * link (checkLockedFileUrls), listed so by the index's page now (checkListedByIndex: that URL, that sha256,
 * that Requires-Python and yanked flag, checked before the file is fetched), and belongs to a release the selection reaches on a target the file fits:
 * a release a project of the spec admits (its specifier, pre-releases included), or one that the
 * Requires-Dist of a wheel reached so (its own METADATA, read from the fetched wheel; markers evaluated for
 * the target with the extras asked for) admits, and so on. Files are fetched a level of that walk at a
 * time, so a file nothing accounts for is refused before it is fetched.
 *
 * Last, the lock must be the whole selection, not a part of it (checkComplete): what ferry lock selects from
 * the index's files uploaded by the lock's locked_at, when the index dates every file (PEP 700). An sdist's
 * dependencies are not followed (ferry lock does not follow them either).
 */
export async function fetchMirrorSelection(name: string, lock: PythonMirrorLock, mirror: PythonMirror, ctx: BuildContext): Promise<FetchResult[]> {
  const where = `lock: mirrors.python.${name}`;
  const index = indexLocation(mirror.index, ctx.baseDir);
  const targets = mirrorTargets(mirror);
  const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
  lockMatchesSpec(
    `mirrors.python.${name}`,
    [plain({ index, projects: mirror.projects, targets: targets.map((t) => t.target), sdists: mirror.sdists })],
    [plain({ index: lock.index, projects: lock.projects, targets: lock.targets, sdists: lock.sdists })],
  );
  const refuse = (f: { filename: string; project: string; version: string }, why: string) =>
    new SpecError(`${where}: ${f.filename} (${f.project} ${f.version}) ${why}; run ferry lock again and review the diff`);
  const entries: Entry[] = lock.files.map((f, at) => {
    const dist = parseDistFilename(f.filename, f.project);
    const version = dist && pep440.valid(dist.version) !== null ? (pep440.clean(dist.version) ?? dist.version) : undefined;
    if (!dist || dist.project !== f.project || dist.kind !== f.kind || version !== f.version) {
      throw refuse(f, `is not what its name says (${dist ? `${dist.kind} of ${dist.project} ${dist.version}` : 'no distribution file name'})`);
    }
    return { at, project: f.project, version, filename: f.filename, kind: f.kind, tags: dist.kind === 'wheel' ? dist.tags : [], requiresPython: f.requires_python };
  });
  await checkLockedFileUrls(where, lock.files, index);

  const byProject = new Map<string, Entry[]>();
  for (const e of entries) byProject.set(e.project, [...(byProject.get(e.project) ?? []), e]);
  const fits = (e: Entry, t: MirrorTarget) => fitsTarget(e, t, mirror.sdists);
  const admitted = new Set<number>();
  const fetched = new Map<number, FetchResult>();
  const pages = new Map<string, Promise<ProjectPage>>();
  const requiresDist = new Map<number, string[]>();
  const seen = new Set<string>();
  let level: Array<{ project: string; version: string; target: MirrorTarget; extras: string[] }> = [];
  /** every locked release of the requirement's project it admits that has a file for the target */
  const reach = (req: Requirement, target: MirrorTarget) => {
    const extras = req.extras.map((e) => e.toLowerCase()).sort();
    for (const e of byProject.get(req.project) ?? []) {
      if (!admits(req.specifier, e.version) || !fits(e, target)) continue;
      const key = `${e.project}\0${e.version}\0${targets.indexOf(target)}\0${extras.join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      level.push({ project: e.project, version: e.version, target, extras });
    }
  };
  for (const req of mirrorRoots(`mirrors.python.${name}`, mirror)) for (const t of targets) reach(req, t);
  while (level.length) {
    const current = level;
    level = [];
    const files = current.map((v) => (byProject.get(v.project) ?? []).filter((e) => e.version === v.version && fits(e, v.target)));
    for (const e of files.flat()) admitted.add(e.at);
    const wanted = [...admitted].filter((at) => !fetched.has(at)).sort((a, b) => a - b);
    // no URL is fetched that the spec's index does not list with these bytes
    const unhashed = await checkListedByIndex(where, wanted.map((at) => lock.files[at]!), index, pages, { stats: ctx.fetchStats, concurrency: ctx.jobs });
    // a file the index lists without a sha256 is read from its URL again (the cache answers by sha256 alone)
    const got = await fetchMany(
      wanted.map((at) => lock.files[at]!).map((f) => ({ url: f.url, sha256: unhashed.has(f.url) ? undefined : f.sha256, size: f.size, label: `${f.filename} (${f.url})` })),
      { cacheDir: ctx.cacheDir, log: ctx.log, stats: ctx.fetchStats, syncBatch: ctx.syncBatch, concurrency: Math.max(1, ctx.jobs), label: `mirror ${name} files` },
    );
    for (const [i, at] of wanted.entries()) {
      const f = lock.files[at]!;
      if (got[i]!.sha256 !== f.sha256) throw new IntegrityError(`${where}: ${f.filename} (${f.project} ${f.version}): ${quoteInput(f.url, 200)} (the index lists it without a sha256) serves sha256 ${got[i]!.sha256}, the lock says ${f.sha256}; run ferry lock again and review the diff`);
      fetched.set(at, got[i]!);
    }
    for (const [i, v] of current.entries()) {
      for (const e of files[i]!.filter((f) => f.kind === 'wheel')) {
        for (const line of await wheelRequires(e)) {
          const req = parseRequirement(line);
          if (!req) throw new IntegrityError(`${where}: ${e.filename} declares a dependency ferry cannot read: ${quoteInput(line, 200)}`);
          if (req.url || (req.marker && !applies(req, e, v.target, v.extras))) continue;
          reach(req, v.target);
        }
      }
    }
  }
  const stray = entries.find((e) => !admitted.has(e.at));
  if (stray) throw refuse(stray, `is not a release the spec's projects (${mirror.projects.join(', ').slice(0, 200)}) admit or need, on a target it fits`);
  const byName = new Map(entries.map((e) => [e.filename, e]));
  await checkComplete(name, lock, mirror, ctx, {
    pages,
    requiresDist: (filename) => {
      const e = byName.get(filename);
      return e?.kind === 'wheel' && fetched.has(e.at) ? wheelRequires(e) : undefined;
    },
  });
  return lock.files.map((_, at) => fetched.get(at)!);

  /** a fetched wheel's Requires-Dist, from its own METADATA (what the hosts' pip reads), which must name its project and version */
  async function wheelRequires(e: Entry): Promise<string[]> {
    let lines = requiresDist.get(e.at);
    if (!lines) {
      const own = await readWheelFiles(fetched.get(e.at)!.path, e.filename, ['METADATA', 'WHEEL']);
      const meta = parseCoreMetadata(own.METADATA);
      if ((meta.name && normalizeProjectName(meta.name) !== e.project) || (meta.version && !sameVersion(meta.version, e.version))) {
        throw new IntegrityError(`${where}: ${e.filename}: its own METADATA names ${quoteInput(`${meta.name ?? ''} ${meta.version ?? ''}`, 200)}, not ${e.project} ${e.version}; run ferry lock again and review the diff`);
      }
      // the file is the one its name says it is (the tags it installs on), as a service's wheels are
      checkWheelTags(e.filename, e.project, own.WHEEL, where);
      lines = meta.requiresDist;
      requiresDist.set(e.at, lines);
    }
    return lines;
  }

  function applies(req: Requirement, e: Entry, target: MirrorTarget, extras: string[]): boolean {
    try {
      return evaluateMarker(req.marker!, target.env, extras);
    } catch (err) {
      throw new IntegrityError(`${where}: ${e.filename} -> ${req.name}: cannot evaluate marker "${req.marker}": ${(err as Error).message}`);
    }
  }
}
