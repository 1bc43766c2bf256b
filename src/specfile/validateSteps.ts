import { FerryError, SpecError } from '../errors.js';
import { issueLines } from '../util/formatIssues.js';
import { escapeText } from '../util/escapeText.js';
import { joinProblems, keyPath, quoteInput } from '../util/oneLine.js';
import { checkTemplate, isTemplate } from '../template/renderTemplate.js';
import { isStepKindName, STEP_KIND_LIST, STEP_OPTIONS, type StepKindName } from './stepOptions.js';
import { STAGES, type StageName } from '../stages.js';

export interface ParsedStep {
  kind: StepKindName;
  /** the options as written (strings may still hold {{ templates }}, rendered per host) */
  params: Record<string, unknown>;
}

type ServiceSteps = Partial<Record<StageName, unknown[]>>;

/** Problems a step's checked options have against what they refer to (the deploy asks the release: files, rootfs, git bundles). */
export type StepCheck = (kind: StepKindName, options: unknown, service: string) => string[];

/**
 * Check every step of every service against its kind's strict schema; with `check`, also check what
 * the steps refer to. The build calls this on the spec, so a mistyped option fails on the connected
 * side, not months later at deploy time; plan and deploy call it again on the release, with a check
 * that the files, rootfs and git bundles the steps name are in it. Throws one SpecError, one line naming
 * the first problems and counting the rest: a manifest's step keys and options are hostile input, shown quoted and escaped.
 */
export function validateSteps(services: Record<string, ServiceSteps>, label: string, check?: StepCheck): Map<string, Record<StageName, ParsedStep[]>> {
  const problems: string[] = [];
  const out = new Map<string, Record<StageName, ParsedStep[]>>();
  for (const [service, def] of Object.entries(services)) {
    const stages = { stage: [], install: [], configure: [] } as Record<StageName, ParsedStep[]>;
    for (const stage of STAGES) {
      (def[stage] ?? []).forEach((raw, i) => {
        const where = `services.${service}.${stage}[${i}]`;
        const keys = raw && typeof raw === 'object' ? Object.keys(raw) : [];
        if (keys.length !== 1) {
          problems.push(`${label}: ${where}: a step has exactly one key naming its kind (${STEP_KIND_LIST})`);
          return;
        }
        const kindName = keys[0]!;
        if (!isStepKindName(kindName)) {
          problems.push(`${label}: ${where}: unknown step kind ${quoteInput(kindName)}; use one of ${STEP_KIND_LIST}`);
          return;
        }
        if (stage !== 'configure' && ACTIVE_ONLY.has(kindName)) {
          problems.push(`${label}: ${where}: a ${kindName} step starts, stops or restarts a running service, which the ${stage} stage never does (it runs on every host at once, outside the --serial batches and health checks); write it under configure:`);
          return;
        }
        const params = (raw as Record<string, unknown>)[kindName];
        if (stage === 'stage' && activatedAtConfigure(kindName, params)) {
          problems.push(`${label}: ${where}: ${STAGE_REFUSAL[kindName]}, and the stage stage runs on every host at once and activates nothing; write it under install: (configure activates it in the --serial batches)`);
          return;
        }
        const broken = templateProblems(params, `${label}: ${where}.${kindName}`);
        if (broken.length) {
          problems.push(...broken);
          return;
        }
        const parsed = STEP_OPTIONS[kindName].safeParse(params);
        if (!parsed.success) {
          // a value written as a {{ template }} is only known per host; it is checked again once rendered
          // (an issue about the step as a whole, like an unknown option, never depends on a template)
          const real = parsed.error.issues.filter((i) => i.path.length === 0 || !hasTemplate(valueAt(params, i.path)));
          if (real.length) {
            problems.push(...issueLines(`${label}: ${where}.${kindName}`, { issues: real } as never).map((l) => l.replace(': (top level)', '')));
            return;
          }
        } else if (check && !hasTemplate(params)) for (const p of check(kindName, parsed.data, service)) problems.push(`${label}: ${where}: ${escapeText(p)}`);
        stages[stage].push({ kind: kindName, params: (params ?? {}) as Record<string, unknown> });
      });
    }
    out.set(service, stages);
  }
  if (problems.length) throw new SpecError(joinProblems(problems));
  return out;
}

/**
 * Kinds that act on running services whatever their options say, so they belong in configure: only
 * there do the --serial batches, health checks and --max-fail-percent hold them. (file, template and
 * command steps run where they are written: docs/deploy.md says what that means under install:.)
 */
const ACTIVE_ONLY: ReadonlySet<StepKindName> = new Set(['service']);

/**
 * Kinds whose effect is an activation configure makes, inside the batches (stepKinds.ts `activate`):
 * written under stage: the stage stage would act at once on every host (apt installs in place, an
 * image's retag moves its reference) or build a tree no configure ever switches to (venv, rootfs,
 * git). What each would do there, for the refusal; test/deploy/stageStepKinds.test.ts keeps this
 * in step with stepKinds' hasActivation.
 */
const STAGE_REFUSAL: Partial<Record<StepKindName, string>> = {
  apt: 'an apt step there installs its packages in place (dpkg), changing what running services use',
  image: 'an image step with retag there moves the image reference a unit may start from',
  venv: 'a venv step there builds a virtualenv no configure ever switches to',
  rootfs: 'a rootfs step there unpacks a tree no configure ever switches to',
  git: 'a git step there checks out a tree no configure ever switches to',
};

/** Whether a step of this kind and these options (as written) has an activation, refused under stage:. */
export function activatedAtConfigure(kind: StepKindName, params: unknown): boolean {
  // a retag written as a {{ template }} may render true on some host
  if (kind === 'image') return !!params && typeof params === 'object' && ![undefined, false].includes((params as Record<string, unknown>).retag as never);
  return STAGE_REFUSAL[kind] !== undefined;
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
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => templateProblems(x, where, keyPath(path, k)));
  return [];
}

function valueAt(v: unknown, path: PropertyKey[]): unknown {
  let cur = v;
  for (const k of path) cur = cur && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[k] : undefined;
  return cur;
}
