import { FerryError, SpecError } from '../../errors.js';
import { formatIssues } from '../../util/formatIssues.js';
import type { Release } from '../../store/loadRelease.js';
import { checkTemplate, isTemplate } from '../renderTemplate.js';
import { stepKinds } from './stepKinds.js';
import { STAGES, type StageName } from './types.js';

export interface ParsedStep {
  kind: string;
  /** the options as written (strings may still hold {{ templates }}, rendered per host) */
  params: Record<string, unknown>;
}

type ServiceSteps = Partial<Record<StageName, unknown[]>>;

/**
 * Check every step of every service against its kind's strict schema; with a release, also check
 * what the steps refer to (files, rootfs, git bundles) exists in it. The build calls this on the spec
 * too, so a mistyped option fails on the connected side, not months later at deploy time.
 * Throws one SpecError listing every problem.
 */
export function validateSteps(services: Record<string, ServiceSteps>, label: string, release?: Release): Map<string, Record<StageName, ParsedStep[]>> {
  const problems: string[] = [];
  const out = new Map<string, Record<StageName, ParsedStep[]>>();
  for (const [service, def] of Object.entries(services)) {
    const stages = { stage: [], install: [], configure: [] } as Record<StageName, ParsedStep[]>;
    for (const stage of STAGES) {
      (def[stage] ?? []).forEach((raw, i) => {
        const where = `services.${service}.${stage}[${i}]`;
        const keys = raw && typeof raw === 'object' ? Object.keys(raw) : [];
        if (keys.length !== 1) {
          problems.push(`${label}: ${where}: a step has exactly one key naming its kind (${Object.keys(stepKinds).join(', ')})`);
          return;
        }
        const kindName = keys[0]!;
        const kind = stepKinds[kindName];
        if (!kind) {
          problems.push(`${label}: ${where}: unknown step kind "${kindName}"; use one of ${Object.keys(stepKinds).join(', ')}`);
          return;
        }
        const params = (raw as Record<string, unknown>)[kindName];
        const broken = templateProblems(params, `${label}: ${where}.${kindName}`);
        if (broken.length) {
          problems.push(...broken);
          return;
        }
        const parsed = kind.schema.safeParse(params);
        if (!parsed.success) {
          // a value written as a {{ template }} is only known per host; it is checked again once rendered
          // (an issue about the step as a whole, like an unknown option, never depends on a template)
          const real = parsed.error.issues.filter((i) => i.path.length === 0 || !hasTemplate(valueAt(params, i.path)));
          if (real.length) {
            problems.push(formatIssues(`${label}: ${where}.${kindName}`, { issues: real } as never).replace(/: \(top level\)/g, ''));
            return;
          }
        } else if (release && !hasTemplate(params)) for (const p of kind.check?.(parsed.data, service, release) ?? []) problems.push(`${label}: ${where}: ${p}`);
        stages[stage].push({ kind: kindName, params: (params ?? {}) as Record<string, unknown> });
      });
    }
    out.set(service, stages);
  }
  if (problems.length) throw new SpecError(problems.join('\n'));
  return out;
}

/** Options holding {{ }} are only known per host; they are checked when the step runs. */
function hasTemplate(v: unknown): boolean {
  if (typeof v === 'string') return isTemplate(v);
  if (v && typeof v === 'object') return Object.values(v).some(hasTemplate);
  return false;
}

/** Template syntax errors and unknown filters in a step's options, found before any host is touched. */
function templateProblems(v: unknown, where: string, path = ''): string[] {
  if (typeof v === 'string') {
    if (!isTemplate(v)) return [];
    try {
      checkTemplate(v, `${where} option ${path}`);
      return [];
    } catch (err) {
      if (err instanceof FerryError) return [err.message];
      throw err;
    }
  }
  if (Array.isArray(v)) return v.flatMap((x, i) => templateProblems(x, where, `${path}[${i}]`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => templateProblems(x, where, path ? `${path}.${k}` : k));
  return [];
}

function valueAt(v: unknown, path: PropertyKey[]): unknown {
  let cur = v;
  for (const k of path) cur = cur && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[k] : undefined;
  return cur;
}
