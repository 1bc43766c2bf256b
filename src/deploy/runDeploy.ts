import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pMap from 'p-map';
import { DeployError, SpecError } from '../errors.js';
import type { Logger } from '../ui/log.js';
import { decideStage } from './decideStage.js';
import type { Fact } from './fact.js';
import { FACT_FORMAT } from './fact.js';
import type { Inventory, InventoryHost } from './loadInventory.js';
import type { Release } from '../store/loadRelease.js';
import { openTransport } from './openTransport.js';
import { parseSerial } from './parseSerial.js';
import { type HostTarget, prepareTargets, type ServiceTarget } from './prepareTargets.js';
import { type FactRead, readFacts } from './readFacts.js';
import { renderDeep } from './renderTemplate.js';
import { type RetryPolicy, retryTransient } from './retryTransient.js';
import { type StageSource, stageArtifacts } from './stageArtifacts.js';
import { stepKinds } from './steps/stepKinds.js';
import { STAGES, type StageName, type StepContext } from './steps/types.js';
import { TransientError } from './transport/TransientError.js';
import type { Transport } from './transport/types.js';
import { writeFact } from './writeFact.js';
import { formatIssues } from '../util/formatIssues.js';

export type StageStatus = 'ran' | 'skipped' | 'failed' | 'not run';

export interface StageOutcome {
  status: StageStatus;
  reason: string;
  /** steps (or artifacts) that changed something */
  changed: number;
  ms: number;
}

export interface HostOutcome {
  host: string;
  services: Record<string, Partial<Record<StageName, StageOutcome>>>;
  /** why the host failed, when it did */
  error?: string;
  /** commands sent to the host */
  commands: number;
}

export interface DeployReport {
  release: { name: string; version: string; digest: string };
  hosts: HostOutcome[];
  ok: boolean;
  /** set when the rollout stopped early (--max-fail-percent) */
  stopped?: string;
  ms: number;
}

export interface DeployOptions {
  release: Release;
  inventory: Inventory;
  /** after --limit */
  hosts: InventoryHost[];
  services?: string[];
  /** stages to consider (default all three) */
  stages?: StageName[];
  /** stages to run whatever the facts say ("all" for every stage) */
  force?: string[];
  forks?: number;
  /** configure batches: "1" (default), "25%", "1,5,25%" */
  serial?: string;
  /** stop the rollout when more than this percentage of hosts failed */
  maxFailPercent?: number;
  source: StageSource | { push: false; server?: string };
  factsDir?: string;
  ssh?: { configFile?: string; program?: string };
  retry?: RetryPolicy;
  /** per remote command */
  timeoutMs?: number;
  log: Logger;
}

interface HostRun {
  target: HostTarget;
  transport: Transport;
  outcome: HostOutcome;
  facts: Map<string, FactRead>;
  /** services that changed something in this run (service steps restart on it) */
  changed: Set<string>;
  failed: boolean;
}

/**
 * stage and install on every host in parallel (--forks), then configure in batches (--serial),
 * each stage skipped when the host's fact shows it done, each fact written as soon as its stage
 * completes, so a re-run after any failure resumes where it stopped.
 */
export async function runDeploy(opts: DeployOptions): Promise<DeployReport> {
  const started = Date.now();
  const { release, log } = opts;
  const m = release.manifest;
  const stages = opts.stages ?? [...STAGES];
  const force = new Set(opts.force ?? []);
  for (const f of force) if (f !== 'all' && !STAGES.includes(f as StageName)) throw new SpecError(`--force ${f}: not a stage; use stage, install, configure or all`);
  const forks = opts.forks ?? 10;
  const retry = opts.retry ?? { retries: 3, delayMs: 500 };
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;

  for (const [name, svc] of Object.entries(m.services)) {
    const missing = svc.groups.filter((g) => !opts.inventory.groups.has(g));
    if (missing.length === svc.groups.length) log.warn(`service ${name} runs on group${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which the inventory ${opts.inventory.file} does not define: no host gets it`);
  }
  const targets = prepareTargets(release, opts.inventory, opts.hosts, { services: opts.services, factsDir: opts.factsDir });
  if (!opts.source.push) {
    for (const t of targets) {
      const server = typeof t.vars.ferry_server === 'string' ? t.vars.ferry_server : opts.source.server;
      if (!server && stages.includes('stage') && t.services.some((s) => s.entries.length)) {
        throw new SpecError(`host ${t.host.name}: no ferry serve address to fetch artifacts from; set vars.ferry_server in the inventory, pass --server URL, or use --push`);
      }
    }
  }

  const controlDir = await mkdtemp(join(tmpdir(), 'fy-'));
  const runs: HostRun[] = targets.map((target) => ({
    target,
    transport: openTransport(target.host, { controlDir, configFile: opts.ssh?.configFile, program: opts.ssh?.program }),
    outcome: { host: target.host.name, services: Object.fromEntries(target.services.map((s) => [s.name, {}])), commands: 0 },
    facts: new Map(),
    changed: new Set(),
    failed: false,
  }));

  const fail = (run: HostRun, err: unknown) => {
    run.failed = true;
    run.outcome.error = err instanceof Error ? err.message : String(err);
    log.event('host', { host: run.target.host.name, status: 'failed', error: run.outcome.error });
  };

  const onRetry = (run: HostRun) => (err: TransientError, waitMs: number, attempt: number) => {
    log.warn(`${err.message}; retry ${attempt}/${retry.retries} in ${(waitMs / 1000).toFixed(1)} s`);
    log.event('retry', { host: run.target.host.name, error: err.message, attempt, waitMs });
  };

  const runStage = async (run: HostRun, svc: ServiceTarget, stage: StageName): Promise<void> => {
    const host = run.target.host.name;
    const record = (o: StageOutcome) => {
      run.outcome.services[svc.name]![stage] = o;
      log.event('stage', { host, service: svc.name, stage, ...o });
    };
    if (run.failed) return record({ status: 'not run', reason: 'host failed earlier', changed: 0, ms: 0 });
    const decision = decideStage(stage, run.facts.get(svc.name) ?? { fact: undefined }, { version: svc.version, digest: release.digest, key: svc.keys[stage] }, force);
    if (!decision.run) return record({ status: 'skipped', reason: decision.reason, changed: 0, ms: 0 });
    log.event('stage', { host, service: svc.name, stage, status: 'start', reason: decision.reason });
    const t0 = Date.now();
    try {
      const changed = await retryTransient(retry, () => executeStage(run, svc, stage), onRetry(run));
      record({ status: 'ran', reason: decision.reason, changed, ms: Date.now() - t0 });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      record({ status: 'failed', reason, changed: 0, ms: Date.now() - t0 });
      fail(run, err);
    }
  };

  const executeStage = async (run: HostRun, svc: ServiceTarget, stage: StageName): Promise<number> => {
    const t = run.target;
    const vars = {
      ...t.vars,
      inventory_hostname: t.host.name,
      ferry_host: t.host.name,
      ferry_service: svc.name,
      ferry_version: svc.version,
      ferry_digest: release.digest,
      ferry_release: m.version,
      ferry_bundle_dir: t.remoteBundle,
      ferry_data_dir: t.dataDir,
    };
    const ctx: StepContext = {
      host: t.host.name,
      service: svc.name,
      stage,
      transport: run.transport,
      release,
      dataDir: t.dataDir,
      remoteBundle: t.remoteBundle,
      vars,
      changedSoFar: run.changed.has(svc.name),
      timeoutMs,
    };
    let changed = 0;
    const note = (what: string, r: { changed: boolean; detail: string }, t0: number) => {
      if (r.changed) {
        changed++;
        run.changed.add(svc.name);
        ctx.changedSoFar = true;
      }
      log.event('step', { host: t.host.name, service: svc.name, stage, step: what, changed: r.changed, detail: r.detail, ms: Date.now() - t0 });
    };
    if (stage === 'stage') {
      const t0 = Date.now();
      const server = typeof t.vars.ferry_server === 'string' ? t.vars.ferry_server : opts.source.push ? undefined : opts.source.server;
      const source: StageSource = opts.source.push ? { push: true } : { push: false, server: server! };
      // staging is not a change a service restarts for: nothing on the host uses the files yet
      const r = await stageArtifacts(ctx, svc.entries, source);
      log.event('step', { host: t.host.name, service: svc.name, stage, step: 'artifacts', changed: r.changed, detail: r.detail, ms: Date.now() - t0 });
      if (r.changed) changed++;
    }
    for (const step of svc.steps[stage]) {
      const t0 = Date.now();
      const kind = stepKinds[step.kind]!;
      const label = `host ${t.host.name}, service ${svc.name}, ${stage} ${step.kind}`;
      const rendered = renderDeep(step.params, vars, (path) => `${label} option ${path}`);
      const parsed = kind.schema.safeParse(rendered);
      if (!parsed.success) throw new DeployError(formatIssues(label, parsed.error));
      const problems = kind.check?.(parsed.data, svc.name, release) ?? [];
      if (problems.length) throw new DeployError(`${label}: ${problems.join('; ')}`);
      note(step.kind, await kind.run(parsed.data, ctx), t0);
    }
    const previous = run.facts.get(svc.name)?.fact;
    const fact: Fact = {
      format: FACT_FORMAT,
      service: svc.name,
      host: t.host.name,
      version: svc.version,
      digest: release.digest,
      release: { name: m.name, version: m.version },
      stages: {
        ...(previous?.stages ?? {}),
        [stage]: {
          time: new Date().toISOString(),
          version: svc.version,
          digest: release.digest,
          key: svc.keys[stage],
          artifacts: svc.artifacts,
          ...(stage === 'stage' ? { files: Object.fromEntries(svc.entries.map((e) => [e.path, e.sha256])) } : {}),
          changed,
        },
      },
    };
    await writeFact(run.transport, t.factsDir, fact, timeoutMs);
    run.facts.set(svc.name, { fact });
    return changed;
  };

  /**
   * A service this release leaves untouched skips every stage, yet the host now runs this release:
   * record its digest, so `ferry status --expect` sees one release everywhere.
   */
  const settleFact = async (run: HostRun, svc: ServiceTarget) => {
    const fact = run.facts.get(svc.name)?.fact;
    if (run.failed || !fact || fact.digest === release.digest || !STAGES.every((s) => fact.stages[s]?.key === svc.keys[s])) return;
    const updated: Fact = { ...fact, version: svc.version, digest: release.digest, release: { name: m.name, version: m.version } };
    try {
      await retryTransient(retry, () => writeFact(run.transport, run.target.factsDir, updated, timeoutMs), onRetry(run));
      run.facts.set(svc.name, { fact: updated });
    } catch (err) {
      fail(run, err);
    }
  };

  const report = (): DeployReport => {
    for (const r of runs) r.outcome.commands = r.transport.commands;
    const ok = runs.every((r) => !r.failed) && !stopped;
    return { release: { name: m.name, version: m.version, digest: release.digest }, hosts: runs.map((r) => r.outcome), ok, stopped, ms: Date.now() - started };
  };

  let stopped: string | undefined;
  const tooManyFailed = () => {
    if (opts.maxFailPercent === undefined || runs.length === 0) return false;
    const failed = runs.filter((r) => r.failed).length;
    return (failed * 100) / runs.length > opts.maxFailPercent;
  };

  try {
    // 1. facts, stage and install: every host at once, bounded by --forks
    await pMap(
      runs,
      async (run) => {
        const t = run.target;
        try {
          run.facts = await retryTransient(retry, () => readFacts(run.transport, t.host.name, t.factsDir, t.services.map((s) => s.name), timeoutMs), onRetry(run));
        } catch (err) {
          fail(run, err);
          return;
        }
        for (const svc of t.services) for (const stage of ['stage', 'install'] as const) if (stages.includes(stage)) await runStage(run, svc, stage);
      },
      { concurrency: Math.max(1, forks) },
    );

    // 2. configure in batches; the rollout stops when failures pass --max-fail-percent
    if (stages.includes('configure')) {
      const todo = runs.filter((r) => r.target.services.length > 0);
      const sizes = parseSerial(opts.serial ?? '1', todo.length);
      let at = 0;
      for (const size of sizes) {
        const batch = todo.slice(at, at + size);
        at += size;
        if (tooManyFailed()) {
          const failed = runs.filter((r) => r.failed).length;
          stopped = `${failed} of ${runs.length} hosts failed, more than --max-fail-percent ${opts.maxFailPercent}; the rollout stopped before configuring ${todo.length - at + size} more`;
          for (const run of todo.slice(at - size)) {
            for (const svc of run.target.services) {
              run.outcome.services[svc.name]!.configure = { status: 'not run', reason: 'rollout stopped (--max-fail-percent)', changed: 0, ms: 0 };
              log.event('stage', { host: run.target.host.name, service: svc.name, stage: 'configure', status: 'not run', reason: 'rollout stopped (--max-fail-percent)' });
            }
          }
          log.warn(stopped);
          break;
        }
        log.event('batch', { hosts: batch.map((r) => r.target.host.name) });
        await pMap(batch, async (run) => {
          for (const svc of run.target.services) {
            await runStage(run, svc, 'configure');
            await settleFact(run, svc);
          }
        }, { concurrency: Math.max(1, forks) });
      }
    }
    for (const run of runs) if (!run.failed) log.event('host', { host: run.target.host.name, status: 'ok', commands: run.transport.commands });
    return report();
  } finally {
    await Promise.all(runs.map((r) => r.transport.close().catch(() => {})));
    await rm(controlDir, { recursive: true, force: true });
  }
}
