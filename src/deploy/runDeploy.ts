import { SpecError, UsageError } from '../errors.js';
import type { Logger } from '../ui/log.js';
import type { DeployReport } from './deployReport.js';
import { DEPLOY_EVENTS_FORMAT, deployEvent } from './deployEvents.js';
import pMap from 'p-map';
import { openConnections, type SshOptions } from './forEachHost.js';
import { holdHost } from './hostGuard.js';
import { HostRun } from './hostRun.js';
import type { Inventory, InventoryHost } from './loadInventory.js';
import type { Release } from '../store/loadRelease.js';
import { prepareTargets } from './prepareTargets.js';
import { refuseSameHost } from './sameHost.js';
import { retiredLines, servicesOfHost } from './retire.js';
import { type RetryPolicy, retryTransient } from './retryTransient.js';
import { CommandTimeoutError, TransientError } from './transport/TransientError.js';
import { oneLine } from './output/deployLines.js';
import { parseSerial } from './parseSerial.js';
import { planService } from './planDeploy.js';
import { rollout } from './rollout.js';
import { renderTargets } from './stepContext.js';
import { refuseTakeovers, takenOver, takeOverReason } from './takeOver.js';
import type { Fact } from './fact.js';
import { STAGES, type StageName } from '../stages.js';
import { hostResult, summarizeReport } from './summarizeReport.js';

export type { DeployReport, HostOutcome, StageOutcome, StageStatus } from './deployReport.js';

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
  source: { push: true } | { push: false; server?: string };
  factsDir?: string;
  ssh?: SshOptions;
  retry?: RetryPolicy;
  /** per remote command */
  timeoutMs?: number;
  /** wait this long for another run's lock on a host (default: fail at once, naming the holder) */
  waitLockSeconds?: number;
  /** also run, in stages the facts show done, the steps whose read and compare finds the host changed (drift) */
  repair?: boolean;
  /** release names (or globs) whose services on the hosts this release may replace (--take-over): any other name's is refused */
  takeOver?: string[];
  log: Logger;
}

/**
 * stage and install on every host in parallel (--forks), then configure in batches (--serial),
 * each stage skipped when the host's fact shows it done, each fact written as soon as its stage
 * completes, so a re-run after any failure resumes where it stopped. Each host is locked for the run.
 */
export async function runDeploy(opts: DeployOptions): Promise<DeployReport> {
  const started = Date.now();
  const { release, log } = opts;
  const m = release.manifest;
  const stages = opts.stages ?? [...STAGES];
  const force = new Set(opts.force ?? []);
  for (const f of force) if (f !== 'all' && !STAGES.includes(f as StageName)) throw new UsageError(`--force ${f}: not a stage; use stage, install, configure or all`);
  // checked before any host is held: the rollout reads it only after stage and install ran everywhere, so a
  // `--serial 0` failed there (exit 64, no report) with every host staged and installed
  parseSerial(opts.serial ?? '1', 0);
  const forks = opts.forks ?? 10;
  const retry = opts.retry ?? { retries: 3, delayMs: 500 };
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;

  for (const [name, svc] of Object.entries(m.services)) {
    const missing = svc.groups.filter((g) => !opts.inventory.groups.has(g));
    if (missing.length === svc.groups.length) log.warn(`service ${name} runs on group${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which the inventory ${opts.inventory.file} does not define: no host gets it`);
  }
  const targets = prepareTargets(release, opts.inventory, opts.hosts, { services: opts.services, factsDir: opts.factsDir });
  refuseSameHost(targets, opts.inventory.file);
  // every step option and template each host would render, before any host is contacted: a bad inventory value
  // refuses the run, rather than fail its host after stage and install ran there (and other hosts were configured)
  renderTargets(targets, release, stages);
  if (!opts.source.push && stages.includes('stage')) {
    for (const t of targets) {
      if (!t.settings.server && !opts.source.server && t.services.some((s) => s.entries.length)) {
        throw new SpecError(`host ${t.host.name}: no ferry serve address to fetch artifacts from; set vars.ferry_server in the inventory, pass --server URL, or use --push`);
      }
    }
  }

  const connections = await openConnections(targets, opts.ssh);
  deployEvent(log, 'run-start', {
    format: DEPLOY_EVENTS_FORMAT,
    release: { name: m.name, version: m.version, digest: release.digest },
    stages,
    forks,
    serial: opts.serial ?? '1',
    ...(opts.maxFailPercent !== undefined ? { maxFailPercent: opts.maxFailPercent } : {}),
    hosts: targets.map((t) => ({ host: t.host.name, services: t.services.map((s) => ({ name: s.name, version: s.version })) })),
  });
  const runs = targets.map((t, i) => new HostRun(t, connections.transports[i]!, { release, force, source: opts.source, retry, timeoutMs, log, repair: opts.repair }));
  let locking: Promise<unknown> | undefined;
  // the holder lines this run wrote, and for which host: a name that reaches a host held under another name
  const heldHere = new Map<string, string[]>();
  try {
    // 1. lock every host the release deploys to and read its facts, --forks at a time, ahead of the stage
    //    work: each host stays held (its lock, its connection) until the end of the rollout, and a second run
    //    started while this one stages or installs finds every host held, not only the ones this run has reached
    const hold = async (run: HostRun): Promise<void> => {
      const t = run.target;
      run.guard = await retryTransient(retry, () => holdHost(run.transport, t.host.name, t.settings.dataDir, t.settings.factsDir, t.services.map((s) => s.name), { waitSeconds: opts.waitLockSeconds, timeoutMs, heldHere }), run.onRetry);
      run.transport.registerSessions(run.guard.sessions, run.guard.held);
      run.facts = run.guard.facts;
      for (const c of run.guard.cleaned) log.warn(`host ${t.host.name}: an earlier run had been stopped: ${c}`);
    };
    // a host the run only holds (the release gives it no service: another group, another release's host) is
    // held at the end only, to mark the facts of services it no longer has retired: held for the whole
    // rollout, it refused another release's deploy there meanwhile. Its outage or another run's lock is not
    // this release's failure: the run goes on without it (its facts stay unmarked until the next run)
    const holdOnly = async (run: HostRun): Promise<boolean> => {
      try {
        await hold(run);
        return true;
      } catch (err) {
        run.unheld = (err as Error).message;
        log.warn(`${run.unheld}; ${m.name} ${m.version} gives host ${run.name} no service: the run goes on without it`);
        return false;
      }
    };
    const lock = async (run: HostRun): Promise<boolean> => {
      if (!run.target.services.length) return false;
      try {
        await hold(run);
      } catch (err) {
        // locked by another run, or unreachable: failed before any stage, so every stage it would have
        // run is not run (its failure is the host's, listed once), and the per-stage counts stay whole.
        // A host whose connection failed every try (refused, dropped; not one whose command hung) ran none
        // of the run's commands: the report said "host failed earlier" and counted its tries as commands
        const unreached = err instanceof TransientError && !(err instanceof CommandTimeoutError);
        run.fail(unreached ? new TransientError(`${err.message}; not reached in ${run.transport.commands} tr${run.transport.commands === 1 ? 'y' : 'ies'}`) : err);
        if (unreached) run.unreached = true;
        for (const stage of STAGES) if (stages.includes(stage)) run.notRun(stage, unreached ? 'host unreachable' : 'host failed earlier');
        return false;
      }
      return true;
    };
    const settle: Array<{ resolve(ok: boolean): void; reject(err: unknown): void }> = [];
    const locked = runs.map((_, i) => new Promise<boolean>((resolve, reject) => (settle[i] = { resolve, reject })));
    // an internal error fails the run as before, from the stage work that waits for it; none goes unobserved
    for (const p of locked) p.catch(() => {});
    locking = pMap(runs, (run, i) => lock(run).then(settle[i]!.resolve, settle[i]!.reject), { concurrency: Math.max(1, forks) });
    // a service of another release on a host (same service name, another release name) is refused unless
    // --take-over names that release: checked on the facts every hold read, before any stage runs anywhere
    const refusals: Array<{ run: HostRun; service: string; stage: StageName; reason: string }> = [];
    const takeovers: Array<{ run: HostRun; service: string; host: string; fact: Fact }> = [];
    const checked = locking.then(() => {
      takeovers.push(...runs.flatMap((run) => run.target.services.flatMap((svc) => {
        const fact = run.guard ? takenOver(run.facts.get(svc.name), m.name, opts.takeOver) : undefined;
        return fact ? [{ run, service: svc.name, host: run.name, fact }] : [];
      })));
      if (takeovers.length) return;
      // a stage whose earlier stage is neither in --stages nor done for this release by the facts (a gap:
      // `--stages configure,stage`) is refused here, with the reason the plan gives, before any stage runs
      // anywhere: checked only when the run came to configure, stage had run on every host by then
      for (const run of runs) {
        if (!run.guard) continue;
        for (const svc of run.target.services) {
          const row = planService(run.name, svc, run.facts.get(svc.name) ?? { fact: undefined }, release, stages, force).find((r) => r.refused);
          if (row) refusals.push({ run, service: svc.name, stage: row.stage, reason: row.reason });
        }
      }
    });
    checked.catch(() => {});
    // stage and install: every host at once, bounded by --forks, once every host is held and its facts checked
    await pMap(
      runs,
      async (run, i) => {
        if (!(await locked[i])) return;
        await checked;
        if (refusals.length || takeovers.length) return;
        for (const svc of run.target.services) for (const stage of ['stage', 'install'] as const) if (stages.includes(stage)) await run.runStage(svc, stage);
      },
      { concurrency: Math.max(1, forks) },
    );
    await locking;
    if (takeovers.length) {
      // the events a stream reader gets for a run refused ahead, ending with the run-end the stream promises
      // (each takeover the failure of its host and service, as plan shows it); then the refusal's one line and
      // exit 72, with no report. Output for people shows that line alone
      const first = STAGES.find((s) => stages.includes(s))!;
      if (!log.eventLines) refusedAhead(runs, takeovers.map((t) => ({ run: t.run, service: t.service, stage: first, reason: takeOverReason(t.fact, m) })), stages, log, m, release.digest, started);
      refuseTakeovers(takeovers, m);
    }
    if (refusals.length) return refusedAhead(runs, refusals, stages, log, m, release.digest, started);

    // 2. configure in batches; the rollout stops when failures pass --max-fail-percent, or without it when a whole batch failed
    let stopped: string | undefined;
    if (stages.includes('configure')) {
      // the hosts the release deploys to: --max-fail-percent is a share of those, not of the hosts of the
      // inventory it only holds (other groups, other releases), which made 1 of 2 failed "1 of 4 hosts"
      const todo = runs.filter((r) => r.target.services.length > 0);
      const result = await rollout(
        todo,
        todo,
        { serial: opts.serial, maxFailPercent: opts.maxFailPercent, forks },
        (batch, index, total) => deployEvent(log, 'batch', { index, total, hosts: batch.map((r) => r.name) }),
        async (run) => {
          for (const svc of run.target.services) {
            await run.runStage(svc, 'configure');
            await run.settle(svc);
          }
        },
      );
      stopped = result.stopped;
      if (stopped) {
        for (const run of result.notReached) run.notRun('configure', run.failed ? 'host failed earlier' : `rollout stopped (${result.stoppedBy})`);
        log.warn(stopped);
      }
    }
    // a host that now runs this release completely: the facts of services it no longer has are retired
    const retired = await pMap(
      runs,
      async (run) => ({ host: run.name, services: run.target.services.length || (await holdOnly(run)) ? await run.retire(servicesOfHost(m.services, run.target.host)) : [] }),
      { concurrency: Math.max(1, forks) },
    );
    for (const line of retiredLines(retired, m)) log.info(line);
    await pMap(runs, (run) => run.prune(), { concurrency: Math.max(1, forks) });
    return endReport(runs, stopped, log, m, release.digest, started);
  } finally {
    // no hold taken after the others are released
    await locking?.catch(() => {});
    // bounded (the hold's --timeout): a host that keeps its hold going once told to end held the report of every host
    // a hold whose connection dropped (the host went down mid-run) had ended long before: not a wait for --timeout
    await Promise.all(
      runs.map((r) =>
        r.guard?.release().catch((err: unknown) => {
          if (err instanceof CommandTimeoutError) log.warn(`host ${r.name}: its hold (DATA/run/lock) did not end within --timeout after the run; stopped waiting for it`);
          else if (err instanceof TransientError) log.warn(`host ${r.name}: its hold (DATA/run/lock) ended with its connection, not when the run released it: ${oneLine(err.message)}`);
        }),
      ),
    );
    await connections.close();
  }
}

/** The report of a run, its host and run-end events. */
function endReport(runs: HostRun[], stopped: string | undefined, log: Logger, m: { name: string; version: string }, digest: string, started: number): DeployReport {
  for (const r of runs) r.outcome.commands = r.unreached ? 0 : r.transport.commands;
  const ok = runs.every((r) => !r.failed) && !stopped;
  const report: DeployReport = { release: { name: m.name, version: m.version, digest }, hosts: runs.filter((r) => !r.unheld).map((r) => r.outcome), ok, ...(stopped ? { stopped } : {}), ms: Date.now() - started };
  // "ok" only for a host that finished well, as run-end counts it; a host the rollout did not reach gets no host event
  for (const r of report.hosts) if (hostResult(r) === 'ok') deployEvent(log, 'host', { host: r.host, status: 'ok', commands: r.commands });
  const { hosts, stages: counts, failures } = summarizeReport(report);
  deployEvent(log, 'run-end', { ok, ms: report.ms, ...(stopped ? { stopped } : {}), hosts, stages: counts, failures });
  return report;
}

/**
 * Stages refused up front: each refused one is the failure of its host and service, as when the stage comes to
 * it, and nothing runs on any host (no stage, no retire, no prune): the run ends, exit 72, naming what to run.
 */
function refusedAhead(runs: HostRun[], refusals: Array<{ run: HostRun; service: string; stage: StageName; reason: string }>, stages: readonly StageName[], log: Logger, m: { name: string; version: string }, digest: string, started: number): DeployReport {
  for (const r of refusals) r.run.refuse(r.service, r.stage, r.reason);
  const first = refusals[0]!;
  for (const run of runs) {
    for (const svc of run.target.services) {
      const refused = refusals.find((r) => r.run === run && r.service === svc.name);
      for (const stage of STAGES) {
        if (stages.includes(stage) && !run.outcome.services[svc.name]![stage]) run.record(svc.name, stage, { status: 'not run', reason: refused ? `${refused.stage} refused` : `nothing ran: ${first.stage} refused on host ${first.run.name}`, changed: 0, ms: 0 });
      }
    }
  }
  return endReport(runs, undefined, log, m, digest, started);
}
