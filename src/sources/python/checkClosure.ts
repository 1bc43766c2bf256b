import { evaluateMarker, type MarkerEnvironment } from './evaluateMarker.js';
import type { Pin } from './parseRequirementsFile.js';
import { parseRequirement, type Requirement } from './parseRequirement.js';
import { satisfiesSpecifier } from './satisfiesSpecifier.js';

export interface ClosureInput {
  /** the pins that apply to the target (markers already evaluated), by normalized project */
  pins: Map<string, Pin>;
  /** each pinned project's Requires-Dist lines (from its METADATA) */
  requiresDist: Map<string, string[]>;
  env: MarkerEnvironment;
  /** called once per marker variable the target environment cannot know */
  onUnknownVariable?: (variable: string, where: string) => void;
}

/**
 * Check that the pins are closed under their dependencies for the target: every dependency a pinned
 * wheel declares (markers evaluated for the target, with the extras the chain asks for) is pinned too,
 * at a version its specifier admits. Returns one line per problem, each with the chain of pins from a
 * top-level requirement that needs it; an empty list when the set is complete.
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
  const applies = (req: Requirement, project: string, extras: Set<string>) => {
    if (!req.marker) return true;
    try {
      return evaluateMarker(req.marker, env, [...extras], (v) => input.onUnknownVariable?.(v, `${label(pins.get(project)!)}: ${req.name}; ${req.marker}`));
    } catch (err) {
      problems.set(`marker:${project}:${req.name}`, `${label(pins.get(project)!)} -> ${req.name}: cannot evaluate marker: ${(err as Error).message}`);
      return false;
    }
  };

  // top-level requirements are the pins nothing else needs; start the walk there so chains are the longest useful ones
  const needed = new Set<string>();
  for (const [project, reqs] of deps) for (const req of reqs) if (applies(req, project, new Set(pins.get(project)?.extras ?? []))) needed.add(req.project);
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
        if (!applies(req, project, extras)) continue;
        const via = `${chain(project)} -> ${req.name}${req.extras.length ? `[${req.extras.join(',')}]` : ''}${req.specifier}`;
        if (req.url) {
          problems.set(`url:${req.project}`, `${via}: a direct reference (${req.url}); pin ${req.name} from the index instead`);
          continue;
        }
        const pin = pins.get(req.project);
        if (!pin) {
          if (!problems.has(`missing:${req.project}`)) problems.set(`missing:${req.project}`, `${via}: ${req.name} is not pinned in the requirements`);
          continue;
        }
        if (req.specifier && !satisfies(pin.version, req.specifier)) {
          problems.set(`conflict:${req.project}:${project}`, `${via}: but the requirements pin ${pin.name}==${pin.version} (${pin.where})`);
        }
        visit(req.project, project, req.extras.map((e) => e.toLowerCase()));
      }
    }
  };
  for (const root of roots) visit(root, null, pins.get(root)!.extras);
  walk();
  // pins in a dependency cycle are reached by no root; start from each one not reached yet
  for (const project of pins.keys()) {
    if (parent.has(project)) continue;
    visit(project, null, pins.get(project)!.extras);
    walk();
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
