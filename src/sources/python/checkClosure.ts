import { evaluateMarker, safeExtra, type MarkerEnvironment } from './evaluateMarker.js';
import type { Pin } from './parseRequirementsFile.js';
import { parseRequirement, type Requirement } from './parseRequirement.js';
import { isPrerelease, satisfiesSpecifier, specifierAdmitsPrereleases } from './satisfiesSpecifier.js';

export interface ClosureInput {
  /** the pins that apply to the target (markers already evaluated), by normalized project */
  pins: Map<string, Pin>;
  /** each pinned project's Requires-Dist lines (from its METADATA) */
  requiresDist: Map<string, string[]>;
  /**
   * the version of the file each pin takes, where it is not the pin's own (`==1.0` takes `1.0+cpu`): a
   * dependent's specifier is tested against it, as pip's resolver tests its candidate
   */
  installed?: Map<string, string>;
  /** each pinned wheel's Provides-Extra, as written (none for sdists, whose extras are unknown) */
  providesExtra?: Map<string, string[]>;
  env: MarkerEnvironment;
  /** called once per marker variable the target environment cannot know */
  onUnknownVariable?: (variable: string, where: string) => void;
  /** things worth a warning: an extra a wheel does not provide, a dependency pip >= 23.3 would add */
  onNote?: (note: string) => void;
}

/**
 * Check that the pins are closed under their dependencies for the target: every dependency a pinned
 * wheel declares (markers evaluated for the target, with the extras the chain asks for) is pinned too,
 * at a version its specifier admits. Returns one line per problem, each with the chain of pins from a
 * top-level requirement that needs it; an empty list when the set is complete.
 *
 * Extras are matched as pip 23.2 does (not PEP 685): a requested extra is spelled as safe_extra gives
 * (`Some_Extra` -> "some_extra"), one the wheel's Provides-Extra (spelled likewise) lacks is ignored, and
 * `extra == "..."` compares that spelling with the marker's text as is. A dependency that only PEP 685's
 * normalization (pip >= 23.3) would pull in, and that is not pinned, is a note, not a problem.
 */
export function checkClosure(input: ClosureInput): string[] {
  const { pins, env } = input;
  const deps = new Map<string, Requirement[]>();
  const problems = new Map<string, string>();
  for (const [project, lines] of input.requiresDist) {
    const reqs: Requirement[] = [];
    for (const line of lines) {
      const req = parseRequirement(line);
      if (req) reqs.push(req);
      else problems.set(`unreadable:${project}:${line}`, `${label(pins.get(project)!)} declares a dependency ferry cannot read: "${line}"`);
    }
    deps.set(project, reqs);
  }
  const notes = new Set<string>();
  const note = (text: string) => {
    if (!notes.has(text)) input.onNote?.(text);
    notes.add(text);
  };
  /** the requested extras pip 23.2 honours: those the wheel provides, both spelled by safe_extra */
  const validExtras = (project: string, extras: Set<string>) => {
    const provided = input.providesExtra?.get(project);
    if (!provided) return [...extras];
    const safe = new Set(provided.map(safeExtra));
    for (const e of extras) if (!safe.has(e)) note(`${label(pins.get(project)!)} does not provide the extra '${e}' (as pip 23.2 spells it; it provides ${provided.join(', ') || 'none'}); pip 23.2 ignores it`);
    return [...extras].filter((e) => safe.has(e));
  };
  const applies = (req: Requirement, project: string, extras: Set<string>, extraNames: 'pip23.2' | 'pep685' = 'pip23.2') => {
    if (!req.marker) return true;
    try {
      const asked = extraNames === 'pip23.2' ? validExtras(project, extras) : [...extras];
      return evaluateMarker(req.marker, env, asked, (v) => input.onUnknownVariable?.(v, `${label(pins.get(project)!)}: ${req.name}; ${req.marker}`), extraNames);
    } catch (err) {
      problems.set(`marker:${project}:${req.name}`, `${label(pins.get(project)!)} -> ${req.name}: cannot evaluate marker: ${(err as Error).message}`);
      return false;
    }
  };

  // top-level requirements are the pins nothing else needs; start the walk there so chains are the longest useful ones
  const needed = new Set<string>();
  for (const [project, reqs] of deps) for (const req of reqs) if (applies(req, project, new Set((pins.get(project)?.extras ?? []).map(safeExtra)))) needed.add(req.project);
  const roots = [...pins.keys()].filter((p) => !needed.has(p));

  const extrasOf = new Map<string, Set<string>>();
  const parent = new Map<string, string | null>();
  const queue: string[] = [];
  const visit = (project: string, from: string | null, extras: string[]) => {
    const known = extrasOf.get(project);
    const fresh = extras.filter((e) => !known?.has(e));
    if (known && fresh.length === 0) return;
    if (!parent.has(project)) parent.set(project, from);
    extrasOf.set(project, new Set([...(known ?? []), ...extras]));
    queue.push(project);
  };
  const chain = (project: string): string => {
    const parts: string[] = [];
    for (let p: string | null | undefined = project; p; p = parent.get(p)) parts.unshift(label(pins.get(p)!));
    return parts.join(' -> ');
  };
  const walk = () => {
    while (queue.length) {
      const project = queue.shift()!;
      const extras = extrasOf.get(project)!;
      for (const req of deps.get(project) ?? []) {
        const via = `${chain(project)} -> ${req.name}${req.extras.length ? `[${req.extras.join(',')}]` : ''}${req.specifier}`;
        if (!applies(req, project, extras)) {
          if (extras.size && !req.url && !pins.has(req.project) && applies(req, project, extras, 'pep685')) {
            note(`${via}; ${req.marker}: pip 23.2 does not install ${req.name} (the extra is spelled differently), pip >= 23.3 (PEP 685) does; pin ${req.name} if the hosts' pip is newer`);
          }
          continue;
        }
        if (req.url) {
          problems.set(`url:${req.project}`, `${via}: a direct reference (${req.url}); pin ${req.name} from the index instead`);
          continue;
        }
        const pin = pins.get(req.project);
        if (!pin) {
          if (!problems.has(`missing:${req.project}`)) problems.set(`missing:${req.project}`, `${via}: ${req.name} is not pinned in the requirements`);
          continue;
        }
        const version = input.installed?.get(req.project) ?? pin.version;
        if (req.specifier && !satisfies(version, req.specifier)) {
          problems.set(
            `conflict:${req.project}:${project}`,
            `${via}: but the requirements pin ${pin.name}==${pin.version} (${pin.where})` +
              (version === pin.version ? '' : `, which takes ${version} (pin the build it admits exactly, with === or its local label)`),
          );
        }
        if (req.extras.length) askedWithExtras(req.project, req.extras, req.specifier, via);
        visit(req.project, project, req.extras.map(safeExtra));
      }
    }
  };
  // pip 23.2 looks a project asked for with extras (`b[x]>=1.0`) up as a project of its own, `b[x]`, with the
  // specifiers of every requirement that asks for exactly those extras: where none admits pre-releases, its
  // finder passes over a pre-release, so the pinned `b==1.0rc1` is not found for `b[x]` and pip refuses
  const withExtras = new Map<string, { project: string; specifiers: string[]; via: string[] }>();
  function askedWithExtras(project: string, extras: string[], specifier: string, via: string): void {
    const key = `${project}[${[...new Set(extras.map((e) => safeExtra(e).replace(/[-_.]+/g, '-')))].sort().join(',')}]`;
    const entry = withExtras.get(key) ?? { project, specifiers: [], via: [] };
    if (!entry.specifiers.includes(specifier)) entry.specifiers.push(specifier);
    if (!entry.via.includes(via)) entry.via.push(via);
    withExtras.set(key, entry);
  }
  for (const pin of pins.values()) if (pin.extras.length) askedWithExtras(pin.project, pin.extras, `${pin.arbitrary ? '===' : '=='}${pin.version}`, label(pin));
  for (const root of roots) visit(root, null, pins.get(root)!.extras.map(safeExtra));
  walk();
  // pins in a dependency cycle are reached by no root; start from each one not reached yet
  for (const project of pins.keys()) {
    if (parent.has(project)) continue;
    visit(project, null, pins.get(project)!.extras.map(safeExtra));
    walk();
  }
  for (const [key, { project, specifiers, via }] of withExtras) {
    const pin = pins.get(project);
    const version = input.installed?.get(project) ?? pin?.version;
    if (!pin || version === undefined || !isPrerelease(version)) continue;
    const written = specifiers.filter(Boolean);
    if (written.length === 0 || written.some(specifierAdmitsPrereleases)) continue;
    problems.set(
      `prerelease:${key}`,
      `${via.join('; ')}: pip 23.2 looks ${key} up with ${written.join(',')}, which admits no pre-release, so it does not find ${pin.name}==${pin.version} (${pin.where}), a pre-release (${version}), and refuses; ` +
        `add a line ${key}==${pin.version} with the same hashes`,
    );
  }
  return [...problems.values()];
}

function label(pin: Pin): string {
  return `${pin.name}${pin.extras.length ? `[${pin.extras.join(',')}]` : ''}==${pin.version}`;
}

/** as pip's resolver asks it (SpecifierSet.contains with pre-releases); a specifier that cannot be read is not satisfied */
function satisfies(version: string, specifier: string): boolean {
  return satisfiesSpecifier(version, specifier) ?? false;
}
