import { DeployError } from '../errors.js';
import type { Release } from '../store/loadRelease.js';
import { formatIssues } from '../util/formatIssues.js';
import type { HostTarget, ServiceTarget } from './prepareTargets.js';
import { renderDeep } from '../template/renderTemplate.js';
import { stepKinds } from './steps/stepKinds.js';
import { STEP_OPTIONS } from '../specfile/stepOptions.js';
import type { StageName } from '../stages.js';
import type { ParsedStep } from '../specfile/validateSteps.js';
import type { StepContext } from './steps/types.js';
import type { Transport } from './transport/types.js';

/** What a step of SERVICE at STAGE on a host sees: the host's variables plus the ferry_* values, the transport, the release. */
export function stepContext(target: HostTarget, svc: ServiceTarget, stage: StageName, transport: Transport, release: Release, timeoutMs: number): StepContext {
  const name = target.host.name;
  return {
    host: name,
    service: svc.name,
    stage,
    transport,
    release,
    dataDir: target.settings.dataDir,
    remoteBundle: target.remoteBundle,
    vars: {
      ...target.settings.vars,
      inventory_hostname: name,
      ferry_host: name,
      ferry_service: svc.name,
      ferry_version: svc.version,
      ferry_digest: release.digest,
      ferry_release: release.manifest.version,
      ferry_bundle_dir: target.remoteBundle,
      ferry_data_dir: target.settings.dataDir,
    },
    changedSoFar: false,
    timeoutMs,
    // a drift check stages nothing; a deploy sets how artifacts travel (the inventory's ferry_server
    // still names, for --check, the registry docker knows a pulled image by)
    push: false,
    server: target.settings.server,
    policyRcSeconds: target.settings.policyRcTimeout,
  };
}

/** The step's options rendered with the host's variables and checked again (templated values are only known now). */
export function renderStep(step: ParsedStep, ctx: StepContext): unknown {
  const kind = stepKinds[step.kind];
  const label = `host ${ctx.host}, service ${ctx.service}, ${ctx.stage} ${step.kind}`;
  const parsed = STEP_OPTIONS[step.kind].safeParse(renderDeep(step.params, ctx.vars, (path) => `${label} option ${path}`));
  if (!parsed.success) throw new DeployError(formatIssues(label, parsed.error));
  const problems = kind.check?.(parsed.data, ctx.service, ctx.release) ?? [];
  if (problems.length) throw new DeployError(`${label}: ${problems.join('; ')}`);
  return parsed.data;
}
