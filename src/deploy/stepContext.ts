import { DeployError } from '../errors.js';
import type { Release } from '../store/loadRelease.js';
import { formatIssues } from '../util/formatIssues.js';
import type { HostTarget, ServiceTarget } from './prepareTargets.js';
import { renderDeep, renderTemplate } from '../template/renderTemplate.js';
import { hasActivation, stepKinds } from './steps/stepKinds.js';
import { bundleEntry } from './steps/bundleEntry.js';
import { readTemplateFileSync } from './steps/readTemplateFile.js';
import type { StepOptions } from '../specfile/stepOptions.js';
import { STEP_OPTIONS } from '../specfile/stepOptions.js';
import type { StageName } from '../stages.js';
import type { ParsedStep } from '../specfile/validateSteps.js';
import type { StepContext } from './steps/types.js';
import type { Transport } from './transport/types.js';

/** What a step of SERVICE at STAGE on a host sees: the host's variables plus the ferry_* values, the transport, the release. */
export function stepContext(target: HostTarget, svc: ServiceTarget, stage: StageName, transport: Transport, release: Release, timeoutMs: number): StepContext {
  return {
    host: target.host.name,
    service: svc.name,
    stage,
    transport,
    release,
    dataDir: target.settings.dataDir,
    remoteBundle: target.remoteBundle,
    vars: stepVars(target, svc, release),
    changedSoFar: false,
    timeoutMs,
    // a drift check stages nothing; a deploy sets how artifacts travel (the inventory's ferry_server
    // still names, for --check, the registry docker knows a pulled image by)
    push: false,
    server: target.settings.server,
    policyRcSeconds: target.settings.policyRcTimeout,
  };
}

/** What templates and step options of SERVICE on a host see: the host's variables plus the ferry_* values. */
function stepVars(target: HostTarget, svc: ServiceTarget, release: Release): Record<string, unknown> {
  const name = target.host.name;
  return {
    ...target.settings.vars,
    inventory_hostname: name,
    ferry_host: name,
    ferry_service: svc.name,
    ferry_version: svc.version,
    ferry_digest: release.digest,
    ferry_release: release.manifest.version,
    ferry_bundle_dir: target.remoteBundle,
    ferry_data_dir: target.settings.dataDir,
  };
}

/** What rendering a step reads: no host is needed, only its variables. */
type RenderContext = Pick<StepContext, 'host' | 'service' | 'stage' | 'vars' | 'release'>;

/** The step's options rendered with the host's variables and checked again (templated values are only known now). */
export function renderStep(step: ParsedStep, ctx: RenderContext): unknown {
  const kind = stepKinds[step.kind];
  const label = `host ${ctx.host}, service ${ctx.service}, ${ctx.stage} ${step.kind}`;
  const parsed = STEP_OPTIONS[step.kind].safeParse(renderDeep(step.params, ctx.vars, (path) => `${label} option ${path}`));
  if (!parsed.success) throw new DeployError(formatIssues(label, parsed.error));
  const problems = kind.check?.(parsed.data, ctx.service, ctx.release) ?? [];
  if (problems.length) throw new DeployError(`${label}: ${problems.join('; ')}`);
  return parsed.data;
}

/**
 * Every step option (and the text of every template) the chosen stages render on each host, rendered and
 * checked on the runner before any host is contacted: an inventory value that makes a `dest` leave its place,
 * an undefined variable or a bad unit name refuses the whole run (the first failure, one line naming the host,
 * service, stage and step), instead of failing that host after its stage and install ran, and after other
 * hosts were configured. Nothing needs the host: the rendering reads only its variables. The steps render
 * again when they run, with the same variables.
 */
export function renderTargets(targets: HostTarget[], release: Release, stages: readonly StageName[]): void {
  // a template file is read once per run, not once per host
  const texts = new Map<string, string>();
  for (const target of targets) {
    for (const svc of target.services) {
      const vars = stepVars(target, svc, release);
      for (const stage of stages) {
        const ctx: RenderContext = { host: target.host.name, service: svc.name, stage, vars, release };
        // configure renders the install steps it activates with the same variables (as install did)
        const steps = stage === 'configure' && !stages.includes('install') ? [...svc.steps.install.filter(hasActivation), ...svc.steps.configure] : svc.steps[stage];
        for (const step of steps) {
          const params = renderStep(step, ctx);
          if (step.kind !== 'template') continue;
          const entry = bundleEntry(release, svc.name, (params as StepOptions<'template'>).src)!;
          let text = texts.get(entry.path);
          if (text === undefined) texts.set(entry.path, (text = readTemplateFileSync(release.dir, entry)));
          renderTemplate(text, vars, `template ${entry.path} for host ${target.host.name}`);
        }
      }
    }
  }
}
