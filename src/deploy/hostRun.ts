import { DeployError } from '../errors.js';
import { formatIssues } from '../util/formatIssues.js';
import type { Logger } from '../ui/log.js';
import { decideStage } from './decideStage.js';
import { deployEvent } from './deployEvents.js';
import type { HostOutcome, StageOutcome } from './deployReport.js';
import { type Fact, FACT_FORMAT, type Failure } from './fact.js';
import type { HostGuard } from './hostGuard.js';
import type { Release } from '../store/loadRelease.js';
import type { HostTarget, ServiceTarget } from './prepareTargets.js';
import type { FactRead } from './readFacts.js';
import { renderDeep } from '../template/renderTemplate.js';
import { type RetryPolicy, retryTransient } from './retryTransient.js';
import { pruneReleasesScript, type StageSource, stageArtifacts } from './stageArtifacts.js';
import { stepKinds } from './steps/stepKinds.js';
import { STEP_OPTIONS } from '../specfile/stepOptions.js';
import { STAGES, type StageName } from '../stages.js';
import type { ParsedStep } from '../specfile/validateSteps.js';
import type { StepContext, StepResult, StepTarget } from './steps/types.js';
import { runScript } from './steps/runScript.js';
import type { TransientError } from './transport/TransientError.js';
import type { Transport } from './transport/types.js';
import { writeFact } from './writeFact.js';

export interface StageRunSettings {
  release: Release;
  /** stages run whatever the facts say ("all" for every stage) */
  force: ReadonlySet<string>;
  /** where the stage stage gets artifacts; the host's ferry_server wins over --server */
  source: { push: true } | { push: false; server?: string };
  retry: RetryPolicy;
  timeoutMs: number;
  log: Logger;
}

/**
 * One host's part of a deploy: per service and stage, decide from the host's facts, run the steps,
 * and write the fact as soon as the stage completed (or record its failure there), so a re-run after
 * any failure resumes where it stopped and `ferry status` tells what the host runs.
 */
export class HostRun {
  readonly outcome: HostOutcome;
  facts = new Map<string, FactRead>();
  failed = false;
  guard?: HostGuard;
  /** whether this run changed anything on the host (then old release trees are pruned at the end) */
  touched = false;
  /** services that changed something in this run (service steps restart on it) */
  private readonly changed = new Set<string>();

  constructor(
    readonly target: HostTarget,
    readonly transport: Transport,
    private readonly s: StageRunSettings,
  ) {
    this.outcome = { host: target.host.name, services: Object.fromEntries(target.services.map((svc) => [svc.name, {}])), commands: 0 };
  }

  get name(): string {
    return this.target.host.name;
  }

  fail(err: unknown): void {
    this.failed = true;
    this.outcome.error = err instanceof Error ? err.message : String(err);
    deployEvent(this.s.log, 'host', { host: this.name, status: 'failed', error: this.outcome.error });
  }

  onRetry = (err: TransientError, waitMs: number, attempt: number): void => {
    this.s.log.warn(`${err.message}; retry ${attempt}/${this.s.retry.retries} in ${(waitMs / 1000).toFixed(1)} s`);
    deployEvent(this.s.log, 'retry', { host: this.name, error: err.message, attempt, waitMs });
  };

  record(svc: string, stage: StageName, o: StageOutcome): void {
    this.outcome.services[svc]![stage] = o;
    deployEvent(this.s.log, 'stage', { host: this.name, service: svc, stage, ...o });
  }

  async runStage(svc: ServiceTarget, stage: StageName): Promise<void> {
    if (this.failed) return this.record(svc.name, stage, { status: 'not run', reason: 'host failed earlier', changed: 0, ms: 0 });
    const read = this.facts.get(svc.name) ?? { fact: undefined };
    const decision = decideStage(stage, read, { version: svc.version, digest: this.s.release.digest, key: svc.keys[stage] }, this.s.force);
    if (!decision.run) {
      // an unchanged service still finds its files in the new release's tree (links, nothing transferred)
      if (stage === 'stage' && read.fact?.digest !== this.s.release.digest) {
        try {
          await retryTransient(this.s.retry, () => this.stageFiles(svc, this.context(svc, stage)), this.onRetry);
          this.touched = true;
        } catch (err) {
          this.record(svc.name, stage, { status: 'failed', reason: (err as Error).message, changed: 0, ms: 0 });
          return this.fail(err);
        }
      }
      return this.record(svc.name, stage, { status: 'skipped', reason: decision.reason, changed: 0, ms: 0 });
    }
    deployEvent(this.s.log, 'stage', { host: this.name, service: svc.name, stage, status: 'start', reason: decision.reason });
    const t0 = Date.now();
    const at = { step: undefined as string | undefined };
    try {
      const changed = await retryTransient(this.s.retry, () => this.executeStage(svc, stage, at), this.onRetry);
      this.record(svc.name, stage, { status: 'ran', reason: decision.reason, changed, ms: Date.now() - t0 });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.record(svc.name, stage, { status: 'failed', reason, changed: 0, ms: Date.now() - t0 });
      this.fail(err);
      await this.recordFailure(svc, { stage, step: at.step, time: new Date().toISOString(), message: reason, digest: this.s.release.digest });
    }
  }

  private context(svc: ServiceTarget, stage: StageName): StepContext {
    const t = this.target;
    const m = this.s.release.manifest;
    return {
      host: this.name,
      service: svc.name,
      stage,
      transport: this.transport,
      release: this.s.release,
      dataDir: t.settings.dataDir,
      remoteBundle: t.remoteBundle,
      vars: {
        ...t.settings.vars,
        inventory_hostname: this.name,
        ferry_host: this.name,
        ferry_service: svc.name,
        ferry_version: svc.version,
        ferry_digest: this.s.release.digest,
        ferry_release: m.version,
        ferry_bundle_dir: t.remoteBundle,
        ferry_data_dir: t.settings.dataDir,
      },
      changedSoFar: this.changed.has(svc.name),
      timeoutMs: this.s.timeoutMs,
      push: this.s.source.push,
      server: this.target.settings.server ?? (this.s.source.push ? undefined : this.s.source.server),
      policyRcSeconds: t.settings.policyRcTimeout,
    };
  }

  /** Image blobs travel with --push only: otherwise the host's container runtime pulls them from ferry serve's registry (image steps). */
  private stageFiles(svc: ServiceTarget, ctx: StepContext): Promise<StepResult> {
    const source: StageSource = ctx.push ? { push: true } : { push: false, server: ctx.server! };
    return stageArtifacts(ctx, ctx.push ? svc.entries : svc.entries.filter((e) => e.kind !== 'image'), source);
  }

  private async executeStage(svc: ServiceTarget, stage: StageName, at: { step?: string }): Promise<number> {
    const ctx = this.context(svc, stage);
    const previous = this.facts.get(svc.name)?.fact;
    // what install prepared in an earlier run and no configure has activated yet: restart for it now
    if (stage === 'configure' && previous?.pending) ctx.changedSoFar = true;
    let changed = 0;
    const changes: string[] = [];
    const note = (what: string, index: number, target: StepTarget, r: StepResult, t0: number) => {
      if (r.changed) {
        changed++;
        changes.push(what);
        this.changed.add(svc.name);
        ctx.changedSoFar = true;
        this.touched = true;
      }
      deployEvent(this.s.log, 'step', { host: this.name, service: svc.name, stage, step: what, index, target, changed: r.changed, detail: r.detail, ms: Date.now() - t0 });
    };
    if (stage === 'stage') {
      const t0 = Date.now();
      at.step = 'artifacts';
      const r = await this.stageFiles(svc, ctx);
      this.touched = true;
      // staging is not a change a service restarts for: nothing on the host uses the files yet
      deployEvent(this.s.log, 'step', { host: this.name, service: svc.name, stage, step: 'artifacts', target: { kind: 'artifacts', count: svc.entries.length, path: this.target.remoteBundle }, changed: r.changed, detail: r.detail, ms: Date.now() - t0 });
      if (r.changed) changed++;
    }
    // configure first switches to what install prepared (virtualenvs, rootfs and git trees), inside the batch
    if (stage === 'configure') {
      for (const [index, step] of svc.steps.install.entries()) {
        const kind = stepKinds[step.kind];
        if (!kind.activate) continue;
        const t0 = Date.now();
        at.step = `activate ${step.kind}`;
        const params = this.parse(step, ctx, svc);
        note(`activate ${step.kind}`, index, kind.target(params), await kind.activate(params, ctx), t0);
      }
    }
    for (const [index, step] of svc.steps[stage].entries()) {
      const t0 = Date.now();
      at.step = step.kind;
      const kind = stepKinds[step.kind];
      const params = this.parse(step, ctx, svc);
      note(step.kind, index, kind.target(params), await kind.run(params, ctx), t0);
    }
    const base = this.baseFact(svc, previous);
    const fact: Fact = {
      ...base,
      stages: {
        ...base.stages,
        [stage]: {
          time: new Date().toISOString(),
          version: svc.version,
          digest: this.s.release.digest,
          key: svc.keys[stage],
          artifacts: svc.artifacts,
          ...(stage === 'stage' ? { files: Object.fromEntries(svc.entries.map((e) => [e.path, e.sha256])) } : {}),
          changed,
        },
      },
      pending: stage === 'configure' ? undefined : stage === 'install' && changes.length ? { since: base.pending?.since ?? new Date().toISOString(), digest: this.s.release.digest, changes: [...new Set([...(base.pending?.changes ?? []), ...changes])] } : base.pending,
      failure: base.failure?.stage === stage ? undefined : base.failure,
    };
    await this.writeFact(fact);
    return changed;
  }

  /** The step's options rendered with the host's variables and checked again (templated values are only known now). */
  private parse(step: ParsedStep, ctx: StepContext, svc: ServiceTarget): unknown {
    const kind = stepKinds[step.kind];
    const label = `host ${this.name}, service ${svc.name}, ${ctx.stage} ${step.kind}`;
    const parsed = STEP_OPTIONS[step.kind].safeParse(renderDeep(step.params, ctx.vars, (path) => `${label} option ${path}`));
    if (!parsed.success) throw new DeployError(formatIssues(label, parsed.error));
    const problems = kind.check?.(parsed.data, svc.name, this.s.release) ?? [];
    if (problems.length) throw new DeployError(`${label}: ${problems.join('; ')}`);
    return parsed.data;
  }

  /** The fact as this release sees it: the service's version, digest and stage keys, with what earlier stages left. */
  private baseFact(svc: ServiceTarget, previous: Fact | undefined): Fact {
    const m = this.s.release.manifest;
    return {
      ...(previous ?? { stages: {} }),
      format: FACT_FORMAT,
      service: svc.name,
      host: this.name,
      version: svc.version,
      digest: this.s.release.digest,
      release: { name: m.name, version: m.version },
      keys: svc.keys,
    };
  }

  private async writeFact(fact: Fact): Promise<void> {
    const t = this.target.settings;
    await writeFact(this.transport, t.factsDir, fact, { timeoutMs: this.s.timeoutMs, ansibleDir: t.ansibleFactsDir, ansibleRequired: t.ansibleFactsExplicit });
    this.facts.set(fact.service, { fact });
  }

  /** Best effort: a host that cannot be reached cannot be told; its fact then still shows the stage undone. */
  private async recordFailure(svc: ServiceTarget, failure: Failure): Promise<void> {
    const fact = { ...this.baseFact(svc, this.facts.get(svc.name)?.fact), failure };
    try {
      await this.writeFact(fact);
    } catch {
      /* the failure itself is in the report */
    }
  }

  /**
   * A service this release leaves untouched skips every stage, yet the host now runs this release:
   * record its digest, so `ferry status --expect` sees one release everywhere.
   */
  async settle(svc: ServiceTarget): Promise<void> {
    const fact = this.facts.get(svc.name)?.fact;
    if (this.failed || !fact || fact.pending || fact.failure) return;
    // already recorded (a fact written before facts carried keys gets them now)
    if (fact.digest === this.s.release.digest && fact.keys && STAGES.every((s) => fact.keys![s] === svc.keys[s])) return;
    if (!STAGES.every((s) => fact.stages[s]?.key === svc.keys[s])) return;
    try {
      await retryTransient(this.s.retry, () => this.writeFact(this.baseFact(svc, fact)), this.onRetry);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Remove release trees and blobs the host no longer needs (keeps the newest ferry_keep_releases and every one a fact names). */
  async prune(): Promise<void> {
    if (this.failed || !this.touched) return;
    const t = this.target.settings;
    const ctx = { ...this.context(this.target.services[0]!, 'configure'), service: '-' };
    try {
      const r = await runScript(ctx, 'prune old releases', pruneReleasesScript(t.dataDir, t.factsDir, this.s.release.digest, t.keepReleases));
      if (r.changed) deployEvent(this.s.log, 'step', { host: this.name, service: '-', stage: 'configure', step: 'prune', target: { kind: 'tree', path: `${t.dataDir}/bundles` }, changed: true, detail: r.detail, ms: 0 });
    } catch (err) {
      this.s.log.warn(`host ${this.name}: could not remove old releases: ${(err as Error).message}`);
    }
  }
}
