import { decideStage } from './decideStage.js';
import { stageFailure } from './fact.js';
import { forEachHost } from './forEachHost.js';
import { prepareTargets } from './prepareTargets.js';
import { readHostStatus } from './readFacts.js';
import { comeBack } from './retire.js';
import { retryTransient } from './retryTransient.js';
import { renderTargets } from './stepContext.js';
import { shown, takenOver, takeOverReason } from './takeOver.js';
import { STAGES, type StageName } from '../stages.js';
import type { FactRead } from './readFacts.js';
import type { ServiceTarget } from './prepareTargets.js';
import type { Release } from '../store/loadRelease.js';
import type { DeployOptions } from './runDeploy.js';

export interface PlanRow {
  host: string;
  service: string;
  stage: StageName;
  run: boolean;
  reason: string;
  /** neither run nor skipped: the stages before it are not done for this bundle (the reason names what to run) */
  refused?: boolean;
  /**
   * a run holds the host now (its holder line, `ferry deploy on R (pid N), started T`): a deploy started now is
   * refused there until that run ends, and a stage the facts show unfinished is the one that run is in
   */
  held?: string;
}

export interface PlanResult {
  rows: PlanRow[];
  /** hosts whose facts could not be read, with the reason */
  unreachable: Array<{ host: string; error: string }>;
}

/** What a plan needs: the deploy options that choose hosts, services and stages and reach the hosts. */
export type PlanOptions = Pick<DeployOptions, 'release' | 'inventory' | 'hosts' | 'services' | 'stages' | 'force' | 'factsDir' | 'forks' | 'ssh' | 'retry' | 'timeoutMs' | 'takeOver'>;

/** What a deploy would do: per host, service and stage, run or skip and why. Reads facts only; changes nothing. */
export async function planDeploy(opts: PlanOptions): Promise<PlanResult> {
  const targets = prepareTargets(opts.release, opts.inventory, opts.hosts, { services: opts.services, factsDir: opts.factsDir });
  const stages = opts.stages ?? [...STAGES];
  // what a deploy refuses before any host is contacted, the plan refuses too (a step option or template a host's variables do not render)
  renderTargets(targets, opts.release, stages);
  const force = new Set(opts.force ?? []);
  const rows: PlanRow[] = [];
  const unreachable: PlanResult['unreachable'] = [];
  // a host the release gives no service has nothing to plan: it is not asked (down, it failed the plan)
  await forEachHost(targets.filter((t) => t.services.length), opts, async (t, transport) => {
    try {
      // who holds the host, read with the facts the way status does (/proc/locks, never taking the lock)
      const { facts, heldBy } = await retryTransient(opts.retry ?? { retries: 2, delayMs: 500 }, () => readHostStatus(transport, t.host.name, t.settings.factsDir, t.settings.dataDir, opts.timeoutMs, t.services.map((s) => s.name)));
      for (const svc of t.services) {
        const read = facts.get(svc.name)!;
        if (heldBy !== undefined) rows.push(...heldRows(t.host.name, svc.name, read, stages, heldBy));
        else rows.push(...takeOverRows(t.host.name, svc.name, read, opts.release, stages, opts.takeOver, () => planService(t.host.name, svc, read, opts.release, stages, force)));
      }
    } catch (err) {
      unreachable.push({ host: t.host.name, error: (err as Error).message });
    }
  });
  const order = new Map(targets.map((t, i) => [t.host.name, i]));
  rows.sort((a, b) => order.get(a.host)! - order.get(b.host)! || (a.service < b.service ? -1 : a.service > b.service ? 1 : 0) || STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage));
  return { rows, unreachable };
}

/**
 * A service another release runs on the host: every stage refused (runDeploy refuses the deploy before any
 * stage runs anywhere), unless --take-over names that release; then the rows a deploy runs, each saying
 * what it replaces. Otherwise the rows `planned` gives.
 */
function takeOverRows(host: string, service: string, read: FactRead, release: Release, stages: readonly StageName[], takeOver: readonly string[] | undefined, planned: () => PlanRow[]): PlanRow[] {
  const m = release.manifest;
  const refused = takenOver(read, m.name, takeOver);
  if (refused) return stages.map((stage) => ({ host, service, stage, run: false, refused: true, reason: takeOverReason(refused, m) }));
  const other = takenOver(read, m.name, undefined);
  if (!other) return planned();
  const from = `taking over from ${shown(other.release.name)} ${shown(other.release.version)} (--take-over)`;
  return planned().map((r) => ({ ...r, reason: `${from}: ${r.reason}` }));
}

/**
 * The rows of a host another run holds now: a deploy started now would be refused there (the host is locked),
 * whatever the facts say; a stage they show unfinished ("did not finish") is the one that run is in, not one a
 * stopped run left to run again.
 */
function heldRows(host: string, service: string, read: FactRead, stages: readonly StageName[], by: string): PlanRow[] {
  const failure = read.fact?.failure;
  return stages.map((stage) => ({
    host,
    service,
    stage,
    run: false,
    held: by,
    reason: failure?.unfinished && failure.stage === stage ? `${stage} running now (since ${failure.time}): the host is being deployed by ${by}` : `the host is being deployed by ${by}; a deploy now is refused there until that run ends`,
  }));
}

/**
 * Per stage of one service on one host, what a deploy of `release` would do with these facts: run, skip or
 * refuse, and why. ferry plan prints it; ferry status asks it whether a service its facts show complete
 * would still run a stage (the inventory's variables changed its keys); ferry deploy asks it, for every
 * host, before any stage runs anywhere, whether a stage would be refused.
 */
export function planService(host: string, svc: ServiceTarget, read: FactRead, release: Release, stages: readonly StageName[], force: ReadonlySet<string>): PlanRow[] {
  const m = release.manifest;
  const rows: PlanRow[] = [];
  // as a deploy goes: a stage that runs is done for the stages after it; after a refusal nothing runs
  const ahead = new Set<StageName>();
  let refused: StageName | undefined;
  // in the order a deploy runs them, whatever order --stages named them in (`configure,stage`: stage runs first)
  for (const stage of STAGES.filter((s) => stages.includes(s))) {
    if (refused) {
      rows.push({ host, service: svc.name, stage, run: false, refused: true, reason: `not run: ${refused} refused` });
      continue;
    }
    let d = comeBack(read) ?? decideStage(stage, read, { version: svc.version, digest: release.digest, key: svc.keys[stage], keys: svc.keys, release: `${m.name} ${m.version}`, ahead }, force);
    // a configure the facts show done still runs when the install before it changes something
    // (it activates and restarts for it), and surely after an install that had not finished
    if (stage === 'configure' && !d.run && !d.refused && ahead.has('install') && svc.steps.install.length > 0) {
      const failure = read.fact && stageFailure(read.fact, 'install');
      d = failure?.unfinished === true ? { run: true, reason: 'install did not finish in an earlier run: configure restarts for what it may have changed' } : { ...d, reason: `${d.reason}; runs if install changes something` };
    }
    rows.push({ host, service: svc.name, stage, ...d });
    if (d.run) ahead.add(stage);
    if (d.refused) refused = stage;
  }
  return rows;
}
