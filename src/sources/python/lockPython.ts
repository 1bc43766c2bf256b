import pMap from 'p-map';
import type { BuildContext } from '../kind.js';
import { IntegrityError, ResolveError, SpecError } from '../../errors.js';
import { admitsPython } from './admitsPython.js';
import { checkClosure } from './checkClosure.js';
import { describeDistFile, MetadataExcludesTarget, type Chosen } from './describeDistFile.js';
import { evaluateMarker, safeExtra, uncertainVariableNote, type MarkerEnvironment } from './evaluateMarker.js';
import { markerEnvironment } from './markerEnvironment.js';
import { normalizeProjectName } from './normalizeProjectName.js';
import { indexLocation } from './indexLocation.js';
import type { CoreMetadata } from './parseCoreMetadata.js';
import type { Pin } from './parseRequirementsFile.js';
import { readProjectPage } from './readProjectPage.js';
import { readRequirementsFile } from './readRequirementsFile.js';
import { parseDistFilename } from './parseDistFilename.js';
import { pinAdmits, selectFile } from './selectFile.js';
import { readFormatControl, type FormatControl } from './formatControl.js';
import { sameVersion } from './sameVersion.js';
import { targetTags, type PythonTarget } from './targetTags.js';
import { joinProblems } from '../../util/oneLine.js';

/** One distribution file the bundle carries. */
export interface LockedPythonFile {
  /** normalized project name */
  project: string;
  version: string;
  filename: string;
  url: string;
  sha256: string;
  size: number;
  requires_python?: string;
  kind: 'wheel' | 'sdist';
  /** PEP 592 reason, when the file is yanked and used because it is pinned exactly */
  yanked?: string;
  services: string[];
}

/** One requirement of one service, as installed on the target. */
export interface LockedPin {
  name: string;
  version: string;
  extras?: string[];
  /** the hashes the requirements file allows */
  hashes: string[];
  /** the file chosen for the target */
  filename: string;
}

export interface PythonLock {
  index: string;
  target: PythonTarget;
  files: LockedPythonFile[];
  services: Record<string, { requirements: string; pins: LockedPin[] }>;
}

/** Safe as one path component of the bundle (python/files/NAME). */
const SAFE_FILENAME = /^[A-Za-z0-9][A-Za-z0-9._+!-]*$/;

/**
 * Resolve every service's requirements file against the index for the target: the file each pin
 * installs (pip's tag order, hashes, Requires-Python, yanked, sdist policy), its size and sha256, and a
 * check that every dependency of every chosen file is pinned too. Undefined when no service has
 * Python requirements.
 */
export async function lockPython(ctx: BuildContext): Promise<PythonLock | undefined> {
  const services = Object.entries(ctx.spec.services).filter(([, s]) => s.artifacts.python);
  if (services.length === 0) return undefined;
  const upstream = ctx.spec.upstreams.python;
  const spec = ctx.spec.targets.python;
  if (!upstream) throw new SpecError(`services ${services.map(([n]) => n).join(', ')} have Python requirements but upstreams.python.index is not set`);
  if (!spec) throw new SpecError(`services ${services.map(([n]) => n).join(', ')} have Python requirements but targets.python (version, platforms) is not set`);
  const index = indexLocation(upstream.index, ctx.baseDir);
  const target: PythonTarget = { version: spec.version, implementation: spec.implementation, abi: spec.abi, platforms: spec.platforms };
  const tags = targetTags(target);
  const env = markerEnvironment(target);
  const unknownVars = new Set<string>();
  const onUnknown = (variable: string, where: string) => {
    if (unknownVars.has(variable)) return;
    unknownVars.add(variable);
    ctx.log.warn(`${where}: ${uncertainVariableNote(variable, env)}`);
  };

  // requirements of each service, markers evaluated for the target
  const perService = await readServicePins(ctx, services, env, onUnknown);

  // per project, as soon as its page arrives: the file each pin installs, then that file's metadata
  // (dependencies; sha256 and size where the index gave none). Projects run concurrently, so page reads,
  // metadata reads and downloads overlap.
  const projects = [...new Set([...perService.values()].flatMap((s) => [...s.pins.keys()]))].sort();
  ctx.log.info(`python: reading ${projects.length} projects from ${index}`);
  const chosen = new Map<string, Chosen>();
  const pinFile = new Map<Pin, string>();
  const requiresDist = new Map<string, string[]>();
  const providesExtra = new Map<string, string[]>();
  const facts = new Map<string, { sha256: string; size: number; requiresPython?: string }>();
  const learn = async (c: Chosen) => {
    const d = await describeDistFile(c, target, ctx);
    if (d.requiresDist) requiresDist.set(`${c.project}\0${c.file.filename}`, d.requiresDist);
    if (d.providesExtra) providesExtra.set(`${c.project}\0${c.file.filename}`, d.providesExtra);
    facts.set(c.file.filename, { sha256: d.sha256, size: d.size, requiresPython: d.requiresPython });
  };
  let done = 0;
  await pMap(
    projects,
    async (project) => {
      const users = [...perService].filter(([, s]) => s.pins.has(project));
      const page = await readProjectPage(index, project, { pinnedAt: users[0]![1].pins.get(project)!.where, stats: ctx.fetchStats });
      // pip's resolver tries the versions a pin admits highest first (`==1.0` admits `1.0+cpu`, then `1.0`),
      // each by its best file, and moves on when that file's METADATA Requires-Python excludes the target
      const skipVersions = new Map<string, string>();
      for (;;) {
        const mine = chooseFiles(project, users, page, skipVersions);
        try {
          for (const c of mine) await learn(c);
          break;
        } catch (err) {
          if (!(err instanceof MetadataExcludesTarget)) throw err;
          for (const c of mine) chosen.delete(c.file.filename);
          skipVersions.set(parseDistFilename(err.chosen.file.filename, project)?.version ?? err.chosen.version, `a file of this version (${err.chosen.file.filename}) requires Python ${err.requiresPython} in its METADATA`);
        }
      }
      ctx.log.progress('python projects', ++done, projects.length);
    },
    { concurrency: Math.max(1, ctx.jobs) },
  );
  /** the file each service's pin of one project installs, new entries of `chosen` for files not chosen before */
  function chooseFiles(project: string, users: Array<[string, { pins: Map<string, Pin> }]>, page: Awaited<ReturnType<typeof readProjectPage>>, skipVersions: Map<string, string>): Chosen[] {
    const mine: Chosen[] = [];
    for (const [service, { pins }] of users) {
      const pin = pins.get(project)!;
      const sel = selectFile(pin, page.files, { tags, pythonVersion: target.version, allowSdist: upstream!.allow_sdist, page: page.url, skipVersions, formats: perService.get(service)!.formats });
      for (const w of sel.warnings) ctx.log.warn(w);
      if (!SAFE_FILENAME.test(sel.file.filename)) throw new ResolveError(`${page.url}: file name "${sel.file.filename}" cannot be carried (letters, digits and . _ + ! - only)`);
      let entry = chosen.get(sel.file.filename);
      if (!entry) {
        // the file's own version where the pin admitted a local one (`==2.1.0` took `2.1.0+cpu`)
        entry = { file: sel.file, kind: sel.dist.kind, version: sameVersion(sel.dist.version, pin.version) ? pin.version : sel.dist.version, project, services: new Set(), pins: [] };
        chosen.set(sel.file.filename, entry);
        mine.push(entry);
      }
      entry.services.add(service);
      entry.pins.push(pin);
      pinFile.set(pin, sel.file.filename);
    }
    return mine;
  }
  const files = [...chosen.values()];

  // every dependency pinned, per service (each service gets its own virtualenv)
  const problems: string[] = [];
  for (const [service, { requirements, pins }] of perService) {
    const deps = new Map<string, string[]>();
    const provides = new Map<string, string[]>();
    for (const pin of pins.values()) {
      deps.set(pin.project, requiresDist.get(`${pin.project}\0${pinFile.get(pin)}`) ?? []);
      const extras = providesExtra.get(`${pin.project}\0${pinFile.get(pin)}`);
      if (extras) provides.set(pin.project, extras);
    }
    // the version of the file each pin takes (`==1.0` may take `1.0+cpu`), as pip's resolver tests it
    const installed = new Map([...pins.values()].map((pin) => [pin.project, chosen.get(pinFile.get(pin)!)?.version ?? pin.version]));
    const found = checkClosure({ pins, requiresDist: deps, providesExtra: provides, installed, env, onUnknownVariable: onUnknown, onNote: (note) => ctx.log.warn(`service ${service}: ${note}`) });
    problems.push(...found.map((p) => `service ${service} (${requirements}): ${p}`));
  }
  if (problems.length) {
    throw new ResolveError(
      `python requirements are incomplete for the target (${tags[0]}): ${joinProblems(problems)}. ` +
        'Pin every dependency with == and --hash in the requirements file (pip-compile --generate-hashes, or uv pip compile --generate-hashes, resolves them).',
    );
  }

  return {
    index,
    target,
    files: files
      .map((c) => {
        const f = facts.get(c.file.filename)!;
        const out: LockedPythonFile = {
          project: c.project,
          version: c.version,
          filename: c.file.filename,
          url: c.file.url,
          sha256: f.sha256,
          size: f.size,
          kind: c.kind,
          services: [...c.services].sort(),
        };
        if (f.requiresPython) out.requires_python = f.requiresPython;
        if (c.file.yanked !== undefined) out.yanked = c.file.yanked;
        return out;
      })
      .sort((a, b) => (a.filename < b.filename ? -1 : 1)),
    services: Object.fromEntries(
      [...perService].map(([service, { requirements, pins }]) => [
        service,
        {
          requirements,
          pins: [...pins.values()]
            .sort((a, b) => (a.project < b.project ? -1 : 1))
            .map((p) => ({ name: p.name, version: p.version, ...(p.extras.length ? { extras: p.extras } : {}), hashes: p.hashes, filename: pinFile.get(p)! })),
        },
      ]),
    ),
  };
}

/** Each service's requirements file, read and its markers evaluated for the target: the pins, one per project. */
async function readServicePins(
  ctx: BuildContext,
  services: Array<[string, BuildContext['spec']['services'][string]]>,
  env: MarkerEnvironment,
  onUnknown: (variable: string, where: string) => void,
): Promise<Map<string, { requirements: string; pins: Map<string, Pin>; formats: FormatControl }>> {
  const perService = new Map<string, { requirements: string; pins: Map<string, Pin>; formats: FormatControl }>();
  for (const [name, svc] of services) {
    const requirements = svc.artifacts.python!.requirements;
    const parsed = await readRequirementsFile(requirements, ctx.baseDir);
    for (const o of parsed.ignoredOptions) ctx.log.info(`${o}: ignored (ferry uses upstreams.python.index and targets.python)`);
    const pins = new Map<string, Pin>();
    const unusable: string[] = [];
    for (const pin of parsed.pins) {
      if (pin.marker && !appliesToTarget(pin, env, onUnknown)) continue;
      if (pin.unusable) {
        unusable.push(pin.unusable);
        continue;
      }
      const other = pins.get(pin.project);
      pins.set(pin.project, other ? mergePins(other, pin) : pin);
    }
    if (unusable.length) throw new SpecError(`${requirements}: ${unusable.length} problem(s) in the requirements file: ${joinProblems(unusable)}`);
    perService.set(name, { requirements, pins, formats: readFormatControl(parsed.formatOptions, parsed.preferBinary) });
  }
  return perService;
}

/**
 * What the spec and its requirements files say of a lock's python section: the index, the target, and
 * per service the requirements file and its pins (without the file each was resolved to). `build
 * --locked` compares a lock with it, so a lock cannot add a package, change a version or a hash, or
 * name another index than the reviewed requirements and spec do.
 */
export async function plannedPython(
  ctx: BuildContext,
): Promise<
  Omit<PythonLock, 'files' | 'services'> & {
    services: Record<string, { requirements: string; pins: Array<Omit<LockedPin, 'filename'>> }>;
    servicePins: Map<string, Map<string, Pin>>;
    serviceFormats: Map<string, FormatControl>;
  }
> {
  const services = Object.entries(ctx.spec.services).filter(([, s]) => s.artifacts.python);
  const upstream = ctx.spec.upstreams.python;
  const spec = ctx.spec.targets.python;
  if (!upstream || !spec) throw new SpecError('lock: the lock has a python section, but the spec sets no upstreams.python.index or targets.python; run ferry lock again');
  const target: PythonTarget = { version: spec.version, implementation: spec.implementation, abi: spec.abi, platforms: spec.platforms };
  const perService = await readServicePins(ctx, services, markerEnvironment(target), () => {});
  return {
    index: indexLocation(upstream.index, ctx.baseDir),
    target,
    services: Object.fromEntries(
      [...perService].map(([service, { requirements, pins }]) => [
        service,
        {
          requirements,
          pins: [...pins.values()].sort((a, b) => (a.project < b.project ? -1 : 1)).map((p) => ({ name: p.name, version: p.version, ...(p.extras.length ? { extras: p.extras } : {}), hashes: p.hashes })),
        },
      ]),
    ),
    // the pins as read, per service and project (checkCarriedMetadata checks the closure with them)
    servicePins: new Map([...perService].map(([service, { pins }]) => [service, pins])),
    // each service's --no-binary/--only-binary (checkFilesPinned refuses a file of a format they exclude)
    serviceFormats: new Map([...perService].map(([service, { formats }]) => [service, formats])),
  };
}

/**
 * At build, the wheels carried, judged by their own METADATA (what the hosts' pip reads): the lock may have
 * read an index's PEP 658 `.metadata` file instead, and one that disagrees with its wheel (another name or
 * version, a Requires-Python that excludes the target, a dependency it left out) would have the closure
 * check pass for a set the hosts cannot install. Throws one line naming every problem; `metadata` maps each
 * carried wheel's filename to its parsed METADATA, `servicePins` is plannedPython's (the requirements as read).
 */
export function checkCarriedMetadata(lock: PythonLock, metadata: Map<string, CoreMetadata>, servicePins: Map<string, Map<string, Pin>>): void {
  const env = markerEnvironment(lock.target);
  const problems: string[] = [];
  for (const f of lock.files) {
    const m = metadata.get(f.filename);
    if (!m) continue;
    if (m.name && normalizeProjectName(m.name) !== f.project) problems.push(`${f.filename}: its own METADATA names project "${m.name}"`);
    if (m.version && !sameVersion(m.version, f.version)) problems.push(`${f.filename}: its own METADATA says version ${m.version}, not ${f.version}`);
    if (m.requiresPython && !admitsPython(m.requiresPython, lock.target.version)) problems.push(`${f.filename}: its own METADATA requires Python ${m.requiresPython}, the target is ${lock.target.version}`);
  }
  for (const [service, pins] of servicePins) {
    const fileOf = new Map((lock.services[service]?.pins ?? []).map((p) => [normalizeProjectName(p.name), p.filename]));
    const deps = new Map<string, string[]>();
    const provides = new Map<string, string[]>();
    const wheelOf = new Map<string, string>();
    const versionOf = new Map(lock.files.map((f) => [f.filename, f.version]));
    const installed = new Map<string, string>();
    for (const pin of pins.values()) {
      const filename = fileOf.get(pin.project);
      const version = filename === undefined ? undefined : versionOf.get(filename);
      if (version !== undefined) installed.set(pin.project, version);
      const m = filename === undefined ? undefined : metadata.get(filename);
      deps.set(pin.project, m?.requiresDist ?? []);
      if (m) {
        provides.set(pin.project, m.providesExtra);
        wheelOf.set(pin.project, filename!);
      }
    }
    for (const p of checkClosure({ pins, requiresDist: deps, providesExtra: provides, installed, env })) {
      // the chain's last pin ("a==1.0 -> b[x]==2.0 -> dep: ...") is the wheel whose own METADATA asks for dep
      const chain = p.split(' -> ');
      const asker = chain.length >= 2 ? /^[A-Za-z0-9._-]+/.exec(chain[chain.length - 2]!)?.[0] : undefined;
      const wheel = asker === undefined ? undefined : wheelOf.get(normalizeProjectName(asker));
      problems.push(`service ${service}: ${wheel ? `${wheel}: its own METADATA: ` : ''}${p}`);
    }
  }
  if (problems.length) {
    throw new IntegrityError(
      `python: the wheels carried disagree with the metadata ferry lock read (the index's PEP 658 .metadata file is not its wheel's METADATA): ${problems.join('; ')}; ` +
        'find out why the index is inconsistent before trusting it, then pin what the wheels need and lock again',
    );
  }
}

/**
 * Two lines for one project that both apply to the target, as pip 23.2 reads them: one requirement whose
 * specifiers, extras and hashes are combined (the extras joined, only the hashes both lines allow). The
 * same version, however spelled (`Foo==1.0`, `foo[x]==1.0.0`), merges; two versions conflict, and pip
 * refuses them too (ResolutionImpossible).
 */
function mergePins(first: Pin, again: Pin): Pin {
  const winner = mergedVersion(first, again);
  if (winner === undefined) {
    throw new SpecError(`${again.where}: ${again.name}${again.arbitrary ? '===' : '=='}${again.version} conflicts with ${first.name}${first.arbitrary ? '===' : '=='}${first.version} (${first.where}) for the same target; keep one pin`);
  }
  const hashes = first.hashes.filter((h) => again.hashes.includes(h));
  const otherHashes = first.otherHashes?.filter(([a, d]) => again.otherHashes?.some(([b, e]) => a === b && d === e));
  if (hashes.length === 0) throw new SpecError(`${again.where}: ${again.name}==${again.version} is pinned again (first at ${first.where}) with none of the same hashes; keep one pin`);
  const extras = [...first.extras];
  for (const e of again.extras) if (!extras.some((x) => safeExtra(x) === safeExtra(e))) extras.push(e);
  return { ...first, version: winner.version, ...(winner.arbitrary ? { arbitrary: true as const } : {}), extras, hashes, otherHashes };
}

/**
 * The pin whose version both pins allow, or undefined. `==1.0` also allows `1.0+cpu` (PEP 440: a pin without a
 * local label ignores the candidate's), `==1.0+cpu` only that: together they are `1.0+cpu`, as pip 23.2
 * takes them. `===` pins are strings and allow only themselves: `===1.0` with `==1.0` is `===1.0`.
 */
function mergedVersion(first: Pin, again: Pin): Pin | undefined {
  if (first.arbitrary || again.arbitrary) {
    const [exact, other] = first.arbitrary ? [first, again] : [again, first];
    return pinAdmits(other, exact.version) ? exact : undefined;
  }
  if (sameVersion(first.version, again.version)) return first;
  return pinAdmits(first, again.version) ? again : pinAdmits(again, first.version) ? first : undefined;
}

function appliesToTarget(pin: Pin, env: MarkerEnvironment, onUnknown: (variable: string, where: string) => void): boolean {
  try {
    return evaluateMarker(pin.marker!, env, [], (v) => onUnknown(v, pin.where));
  } catch (err) {
    throw new SpecError(`${pin.where}: ${pin.name}: ${(err as Error).message}`);
  }
}
