import type { Logger } from '../ui/log.js';
import { type Decision, decideStage, factsSayDone, type WantedStage } from './decideStage.js';
import { inspectStage, type StepInspection } from './inspectStage.js';
import { deployEvent } from './deployEvents.js';
import type { HostOutcome, StageOutcome } from './deployReport.js';
import { type Fact, FACT_FORMAT, type Failure, isComplete, type Pending } from './fact.js';
import { comeBack, leftovers } from './retire.js';
import type { HostGuard } from './hostGuard.js';
import type { Release } from '../store/loadRelease.js';
import type { HostTarget, ServiceTarget } from './prepareTargets.js';
import type { FactRead } from './readFacts.js';
import { type RetryPolicy, retryTransient } from './retryTransient.js';
import { pruneReleasesScript, type StageSource, stageArtifacts } from './stageArtifacts.js';
import { hasActivation, stepKinds } from './steps/stepKinds.js';
import { STAGES, type StageName } from '../stages.js';
import type { StepContext, StepResult, StepTarget } from './steps/types.js';
import { runScript } from './steps/runScript.js';
import type { TransientError } from './transport/TransientError.js';
import type { Transport } from './transport/types.js';
import { writeFact } from './writeFact.js';
import { renderStep, stepContext } from './stepContext.js';

/** What a pending activation names when an install was stopped half way: what it changed is not known. */
const INTERRUPTED_INSTALL = 'an install stopped before it completed';

/** Whether the stage has steps that may change the host (activations of install's steps included). */
function changesHost(svc: ServiceTarget, stage: 'install' | 'configure'): boolean {
  return svc.steps[stage].length > 0 || (stage === 'configure' && svc.steps.install.some(hasActivation));
}

/**
 * What the failure (or unfinished mark) of `stage` keeps in front of it (`earlier`), put back when the stage
 * completes: the fact's failure of another stage, whole (a configure whose health check failed, an install the
 * runner was killed in), or what the stage's own last failure kept. Dropped, a later stage the facts show done
 * was skipped after a forced or repaired earlier stage failed or was stopped, then completed: the deploy
 * reported the host ok and status complete while its health check failed or its install had not finished.
 */
function keptFailure(prior: Failure | undefined, stage: StageName): Failure['earlier'] {
  return prior?.stage === stage ? prior.earlier : prior;
}

/** How far a stage got: the step running (for its failure) and what changed so far, over its retries. */
interface StageProgress {
  step?: string;
  changes: string[];
}

export interface StageRunSettings {
  release: Release;
  /** stages run whatever the facts say ("all" for every stage) */
  force: ReadonlySet<string>;
  /** where the stage stage gets artifacts; the host's ferry_server wins over --server */
  source: { push: true } | { push: false; server?: string };
  retry: RetryPolicy;
  timeoutMs: number;
  log: Logger;
  /** --repair: a stage the facts show done still runs the steps whose read and compare finds drift */
  repair?: boolean;
}

/**
 * One host's part of a deploy: per service and stage, decide from the host's facts, run the steps,
 * and write the fact as soon as the stage completed (or record its failure there), so a re-run after
 * any failure resumes where it stopped and `ferry status` tells what the host runs.
 */
export class HostRun {
  readonly outcome: HostOutcome;
  facts = new Map<string, FactRead>();
  /** its connection failed every try before the run held it: none of the run's commands ran there */
  unreached = false;
  /** a host the release gives no service that could not be held (down, locked by another run): why; the run goes on without it */
  unheld?: string;
  /** a failure stopped this host: its later stages are not run */
  private stopped = false;
  /** services with a stage refused in this run (an earlier stage of the bundle not done), and that stage */
  private readonly refused = new Map<string, StageName>();
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

  /** the host failed: a failure stopped it, or a stage of one of its services was refused (the others went on) */
  get failed(): boolean {
    return this.stopped || this.refused.size > 0;
  }

  /** a failure stopped this host (not only a refusal, which changed nothing on it) */
  get broken(): boolean {
    return this.stopped;
  }

  fail(err: unknown): void {
    const first = this.outcome.error === undefined;
    this.stopped = true;
    this.outcome.error = err instanceof Error ? err.message : String(err);
    if (first) deployEvent(this.s.log, 'host', { host: this.name, status: 'failed', error: this.outcome.error });
  }

  /**
   * A stage refused because the stages before it are not done for this bundle: nothing ran and nothing
   * is recorded on the host; the service's later stages are not run, and the host counts as failed.
   * runDeploy refuses it before any stage runs anywhere (planService on the facts the hold read); runStage
   * checks it again when it comes to the stage, on the facts the run's earlier stages wrote.
   */
  refuse(svc: string, stage: StageName, reason: string): void {
    this.record(svc, stage, { status: 'failed', reason: `host ${this.name}, service ${svc}: ${reason}`, changed: 0, ms: 0, refused: true });
    this.refused.set(svc, stage);
    if (this.outcome.error === undefined) {
      this.outcome.error = `host ${this.name}, service ${svc}: ${reason}`;
      deployEvent(this.s.log, 'host', { host: this.name, status: 'failed', error: this.outcome.error });
    }
  }

  private want(svc: ServiceTarget, stage: StageName): WantedStage {
    const m = this.s.release.manifest;
    return { version: svc.version, digest: this.s.release.digest, key: svc.keys[stage], keys: svc.keys, release: `${m.name} ${m.version}` };
  }

  onRetry = (err: TransientError, waitMs: number, attempt: number): void => {
    this.s.log.warn(`${err.message}; retry ${attempt}/${this.s.retry.retries} in ${(waitMs / 1000).toFixed(1)} s`);
    deployEvent(this.s.log, 'retry', { host: this.name, error: err.message, attempt, waitMs });
  };

  record(svc: string, stage: StageName, o: StageOutcome): void {
    this.outcome.services[svc]![stage] = o;
    const { refused: _refused, ...event } = o;
    deployEvent(this.s.log, 'stage', { host: this.name, service: svc, stage, ...event });
  }

  /**
   * `stage` not run for every service of the host that has no outcome for it yet (a host that failed, a
   * rollout that stopped), so that the per-stage counts cover every host/service pair the run considers.
   */
  notRun(stage: StageName, reason: string): void {
    for (const svc of this.target.services) if (!this.outcome.services[svc.name]![stage]) this.record(svc.name, stage, { status: 'not run', reason, changed: 0, ms: 0 });
  }

  async runStage(svc: ServiceTarget, stage: StageName): Promise<void> {
    if (this.stopped) {
      if (!this.outcome.services[svc.name]![stage]) this.record(svc.name, stage, { status: 'not run', reason: 'host failed earlier', changed: 0, ms: 0 });
      return;
    }
    const refusedAt = this.refused.get(svc.name);
    if (refusedAt) return this.record(svc.name, stage, { status: 'not run', reason: `${refusedAt} refused`, changed: 0, ms: 0 });
    const read = this.facts.get(svc.name) ?? { fact: undefined };
    const want = this.want(svc, stage);
    let decision: Decision = comeBack(read) ?? decideStage(stage, read, want, this.s.force);
    if (decision.refused) return this.refuse(svc.name, stage, decision.reason);
    /** --repair of a stage done by the facts: the steps that differ, the only ones to run */
    let only: Set<string> | undefined;
    // (a service the new release leaves unchanged gets its files linked into the new tree below, checked, without a repair)
    if (!decision.run && this.s.repair && !(stage === 'stage' && read.fact?.digest !== this.s.release.digest)) {
      try {
        const drift = await this.findDrift(svc, stage);
        if (drift.length) {
          decision = { run: true, reason: `drift: ${drift.map((d) => `${d.target} (${d.differences.map((x) => x.what).join(', ')})`).join('; ')}` };
          only = new Set(drift.map((d) => d.key));
        }
      } catch (err) {
        this.record(svc.name, stage, { status: 'failed', reason: (err as Error).message, changed: 0, ms: 0 });
        return this.fail(err);
      }
    }
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
    const at: StageProgress = { changes: [] };
    // say first that the stage is running, so that a run stopped before it completes (Ctrl-C, a runner
    // gone, the host lost) leaves it to do: when the facts show it done (it runs because of --force or
    // --repair), and whenever install or configure may change the host (the re-run then restarts for
    // what the stopped attempt may have changed, though its steps find nothing left to change)
    const interrupted = stage !== 'stage' && read.fact?.failure?.stage === stage && read.fact.failure.unfinished === true;
    if (factsSayDone(stage, read, want) || (stage !== 'stage' && changesHost(svc, stage))) {
      try {
        await retryTransient(this.s.retry, () => this.markUnfinished(svc, stage, decision.reason), this.onRetry);
      } catch (err) {
        this.record(svc.name, stage, { status: 'failed', reason: (err as Error).message, changed: 0, ms: Date.now() - t0 });
        return this.fail(err);
      }
    }
    try {
      const changed = await retryTransient(this.s.retry, () => this.executeStage(svc, stage, at, only, interrupted), this.onRetry);
      this.record(svc.name, stage, { status: 'ran', reason: decision.reason, changed, ms: Date.now() - t0 });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.record(svc.name, stage, { status: 'failed', reason, changed: 0, ms: Date.now() - t0 });
      this.fail(err);
      await this.recordFailure(svc, { stage, step: at.step, time: new Date().toISOString(), message: reason, digest: this.s.release.digest }, stage === 'stage' ? [] : at.changes);
    }
  }

  private context(svc: ServiceTarget, stage: StageName): StepContext {
    return { ...stepContext(this.target, svc, stage, this.transport, this.s.release, this.s.timeoutMs), changedSoFar: this.changed.has(svc.name), push: this.s.source.push, server: this.target.settings.server ?? (this.s.source.push ? undefined : this.s.source.server) };
  }

  /** --repair of a stage the facts show done: the steps whose read and compare differ on the host (each reported as a drift event). */
  private async findDrift(svc: ServiceTarget, stage: StageName): Promise<StepInspection[]> {
    const found = await retryTransient(this.s.retry, () => inspectStage(this.context(svc, stage), svc), this.onRetry);
    const drift = found.filter((i) => i.differences.length);
    for (const d of drift) deployEvent(this.s.log, 'drift', { host: this.name, service: svc.name, stage, step: d.step, target: d.target, differences: d.differences, repair: true });
    return drift;
  }


  private stageFiles(svc: ServiceTarget, ctx: StepContext): Promise<StepResult> {
    const source: StageSource = ctx.push ? { push: true } : { push: false, server: ctx.server! };
    return stageArtifacts(ctx, ctx.push ? svc.entries : svc.entries.filter((e) => e.kind !== 'image'), source);
  }

  /**
   * `only`: --repair runs just these steps (inspectStage keys), and the steps that follow a change (a
   * service restart). `interrupted`: an earlier attempt of this stage was stopped before it completed,
   * after changing who knows what: configure restarts, install leaves configure a change to restart for.
   */
  private async executeStage(svc: ServiceTarget, stage: StageName, at: StageProgress, only: ReadonlySet<string> | undefined, interrupted: boolean): Promise<number> {
    const ctx = this.context(svc, stage);
    const previous = this.facts.get(svc.name)?.fact;
    // what install prepared in an earlier run and no configure has activated yet: restart for it now
    if (stage === 'configure' && (previous?.pending || interrupted)) ctx.changedSoFar = true;
    // an earlier attempt of this stage (retried after a result that did not come back) may have changed
    // the host where this one finds nothing left to change: its changes count, and stay pending for configure
    let changed = at.changes.length;
    const note = (what: string, index: number, target: StepTarget, r: StepResult, t0: number) => {
      if (r.changed) {
        changed++;
        at.changes.push(what);
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
        if (!kind.activate || !hasActivation(step) || (only && !only.has(`activate:${index}`))) continue;
        const t0 = Date.now();
        at.step = `activate ${step.kind}`;
        const params = renderStep(step, ctx);
        note(`activate ${step.kind}`, index, kind.target(params), await kind.activate(params, ctx), t0);
      }
    }
    for (const [index, step] of svc.steps[stage].entries()) {
      const kind = stepKinds[step.kind];
      const drifted = only?.has(String(index));
      if (only && !drifted && !(kind.followsChanges && ctx.changedSoFar)) continue;
      const t0 = Date.now();
      at.step = step.kind;
      const params = renderStep(step, ctx);
      // the step sees its options as written too, so that a message never quotes a rendered (secret) value
      const stepCtx: StepContext = { ...ctx, written: step.params, ...(drifted ? { repair: true } : {}) };
      note(step.kind, index, kind.target(params), await kind.run(params, stepCtx), t0);
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
      pending: stage === 'configure' ? undefined : stage === 'install' ? this.pending(base.pending, interrupted ? [...at.changes, INTERRUPTED_INSTALL] : at.changes) : base.pending,
      // this stage completed: its failure (or the mark that it had not finished) goes, another stage's stays,
      // and the one it stood in front of (a later stage's failure, or its mark that it had not finished) is back
      failure: base.failure?.stage === stage ? base.failure.earlier : base.failure,
    };
    await this.writeFact(fact);
    return changed;
  }


  /** The fact as this release sees it: the service's version, digest and stage keys, with what earlier stages left. */
  private baseFact(svc: ServiceTarget, previous: Fact | undefined): Fact {
    const m = this.s.release.manifest;
    // a retired service this release deploys again starts over: what its fact recorded was done before it left
    const live = previous && !previous.retired ? previous : undefined;
    // another release's service taken over (--take-over): which, so that a rollback of this bundle puts it back
    const tookOver = live && live.release.name !== m.name ? { time: new Date().toISOString(), release: live.release, digest: live.digest, by: this.s.release.digest } : live?.tookOver;
    return {
      ...(live ?? { stages: {} }),
      tookOver,
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

  /**
   * Before a stage the facts show done runs again: record that it has not finished (as a failure the
   * stage's completion clears, keeping another stage's failure to put back then), so that a run stopped
   * half way leaves the stage to do, not done.
   */
  private async markUnfinished(svc: ServiceTarget, stage: StageName, reason: string): Promise<void> {
    const base = this.baseFact(svc, this.facts.get(svc.name)?.fact);
    const earlier = keptFailure(base.failure, stage);
    const failure: Failure = {
      stage,
      time: new Date().toISOString(),
      message: `did not finish: the run that started it was stopped before it completed (interrupted, or the host was lost); it ran because: ${reason}; the next run does it again`,
      digest: this.s.release.digest,
      unfinished: true,
      ...(earlier ? { earlier } : {}),
    };
    await this.writeFact({ ...base, failure });
  }

  /** What install prepared, or a failed install or configure changed, that no configure has restarted for yet: `changes` added to `pending`. */
  private pending(pending: Pending | undefined, changes: readonly string[]): Pending | undefined {
    if (!changes.length) return pending;
    return { since: pending?.since ?? new Date().toISOString(), digest: this.s.release.digest, changes: [...new Set([...(pending?.changes ?? []), ...changes])] };
  }

  /**
   * Best effort: a host that cannot be reached cannot be told; its fact then still shows the stage undone.
   * When nothing was pending, what the failed attempt changed (a template written before a health check
   * failed) becomes pending, so the next configure restarts for it and runs the health checks again,
   * though its steps find nothing left to change.
   */
  private async recordFailure(svc: ServiceTarget, failure: Failure, changes: readonly string[]): Promise<void> {
    const base = this.baseFact(svc, this.facts.get(svc.name)?.fact);
    const earlier = keptFailure(base.failure, failure.stage);
    const fact = { ...base, failure: { ...failure, ...(earlier ? { earlier } : {}) }, pending: base.pending ?? this.pending(undefined, changes) };
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
    if (this.stopped || this.refused.has(svc.name) || !fact || fact.pending || fact.failure || fact.retired) return;
    // already recorded (a fact written before facts carried keys gets them now)
    if (fact.digest === this.s.release.digest && fact.keys && STAGES.every((s) => fact.keys![s] === svc.keys[s])) return;
    if (!STAGES.every((s) => fact.stages[s]?.key === svc.keys[s])) return;
    try {
      await retryTransient(this.s.retry, () => this.writeFact(this.baseFact(svc, fact)), this.onRetry);
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Once the host runs this release completely (every service it gives the host complete at its digest,
   * `given`: whatever --services chose), the facts of services of the same release name it no longer has
   * are marked retired: `ferry status` and `rollback` no longer take them for what the host runs. Returns
   * the services retired.
   */
  async retire(given: readonly string[]): Promise<string[]> {
    if (this.failed) return [];
    const { manifest: m, digest } = this.s.release;
    for (const name of given) {
      const f = this.facts.get(name)?.fact;
      if (!f || f.digest !== digest || !isComplete(f)) return [];
    }
    const left = leftovers(this.facts, this.name, m.name, given);
    try {
      for (const f of left) await retryTransient(this.s.retry, () => this.writeFact({ ...f, retired: { time: new Date().toISOString(), digest, release: { name: m.name, version: m.version } } }), this.onRetry);
    } catch (err) {
      this.fail(err);
      return [];
    }
    return left.map((f) => f.service);
  }

  /** Remove release trees and blobs the host no longer needs (keeps the newest ferry_keep_releases and every one a fact names). */
  async prune(): Promise<void> {
    if (this.failed || !this.touched) return;
    const t = this.target.settings;
    const ctx = { ...this.context(this.target.services[0]!, 'configure'), service: '-' };
    try {
      // a service not complete still runs what its configure last completed for (site 8, with 9 staged and
      // installed only): its tree went once two newer bundles had been used, another release's on the host too,
      // and a rollback sent its files again
      const running = [...this.facts.values()].flatMap((r) => (r.fact && !r.fact.retired && r.fact.stages.configure && !isComplete(r.fact) ? [r.fact.stages.configure.digest] : []));
      const r = await runScript(ctx, 'prune old releases', pruneReleasesScript(t.dataDir, t.factsDir, this.s.release.digest, t.keepReleases, [...new Set(running)]));
      if (r.changed) deployEvent(this.s.log, 'step', { host: this.name, service: '-', stage: 'configure', step: 'prune', target: { kind: 'tree', path: `${t.dataDir}/bundles` }, changed: true, detail: r.detail, ms: 0 });
    } catch (err) {
      this.s.log.warn(`host ${this.name}: could not remove old releases: ${(err as Error).message}`);
    }
  }
}
