import { type Fact, stageFailure } from './fact.js';
import type { FactRead } from './readFacts.js';
import { STAGES, type StageName } from '../stages.js';

export interface Decision {
  run: boolean;
  reason: string;
  /**
   * not run, and not skipped either: an earlier stage of this bundle is not done on the host, so this
   * one has nothing to work from (a `--stages configure` before stage and install). Refused whatever
   * --force says; the reason names the stages to run.
   */
  refused?: boolean;
}

export interface WantedStage {
  version: string;
  digest: string;
  /** this stage's key */
  key: string;
  /** every stage's key for this host and service: what the earlier stages must have completed with */
  keys: Record<StageName, string>;
  /** the release, for messages: "rp 2.0.0" */
  release?: string;
  /** earlier stages the same run does first (ferry plan: they would run before this one) */
  ahead?: ReadonlySet<StageName>;
}

/** Run or skip one stage of one service on one host, and say why (ferry plan prints the reason). */
export function decideStage(stage: StageName, read: FactRead, want: WantedStage, force: ReadonlySet<string>): Decision {
  const decision = runOrSkip(stage, read, want, force);
  if (!decision.run) return decision;
  // a stage works from what the stages before it left for this bundle (its staged files, its prepared
  // trees): without them it fails half way with a raw error, or records a release the host cannot run
  const missing = STAGES.slice(0, STAGES.indexOf(stage)).filter((s) => !want.ahead?.has(s) && !doneFor(s, read.fact, want));
  if (!missing.length) return decision;
  const stages = STAGES.slice(0, STAGES.indexOf(stage) + 1).join(',');
  const what = `${missing.join(' and ')} of ${want.release ?? 'this release'} (bundle ${want.digest.slice(0, 12)})`;
  return { run: false, refused: true, reason: `${stage} refused: ${what} ${missing.length > 1 ? 'are' : 'is'} not done on this host; run ferry deploy with --stages ${stages} (or without --stages)` };
}

/** Whether `stage` completed on the host with the inputs this bundle gives it (its key), and no attempt failed since. */
function doneFor(stage: StageName, fact: Fact | undefined, want: WantedStage): boolean {
  const done = fact?.stages[stage];
  if (!done || done.version !== want.version || done.key !== want.keys[stage]) return false;
  return !stageFailure(fact!, stage);
}

function runOrSkip(stage: StageName, read: FactRead, want: WantedStage, force: ReadonlySet<string>): Decision {
  if (force.has(stage) || force.has('all')) return { run: true, reason: `forced (--force ${force.has(stage) ? stage : 'all'})` };
  if (!read.fact) return { run: true, reason: read.problem ? `${read.problem}, running again` : 'not deployed yet' };
  // the last attempt of this stage failed, or did not finish (a first attempt, a forced run, a repair),
  // for this bundle or another one (a rollback after a failed configure: that attempt changed the host
  // half way after the stage last completed): what an earlier run completed says nothing about it any
  // more, and ferry status shows it failed until it completes
  // (or a failure a forced earlier stage keeps in front of it, put back when that one completes)
  const failure = stageFailure(read.fact, stage);
  if (failure) {
    const other = failure.digest === want.digest ? '' : ` for bundle ${failure.digest.slice(0, 12)}`;
    return { run: true, reason: failure.unfinished === true ? `${stage} did not finish${other} (started ${failure.time}), running again` : `${stage} failed${other} at ${failure.time}, running again` };
  }
  const done = read.fact.stages[stage];
  if (!done) return { run: true, reason: `${stage} not completed yet` };
  if (done.version !== want.version) return { run: true, reason: `version ${done.version} -> ${want.version}` };
  if (done.key !== want.key) {
    if (done.digest !== want.digest) return { run: true, reason: `bundle changed (${done.digest.slice(0, 12)} -> ${want.digest.slice(0, 12)})` };
    // the same bundle: the host's variables the stage reads changed its key (or a ferry that computed keys otherwise wrote it)
    return { run: true, reason: 'inventory variables changed' };
  }
  // install prepared something in an earlier run that no configure has activated (and restarted for) yet
  const pending = read.fact.pending;
  if (stage === 'configure' && pending) return { run: true, reason: `activation pending since ${pending.since} (install changed: ${pending.changes.join(', ')})` };
  return { run: false, reason: done.digest === want.digest ? `done ${done.time}` : `done ${done.time} (unchanged since bundle ${done.digest.slice(0, 12)})` };
}

/** Whether the facts alone (no --force) would skip the stage: a run of it then first records that it has not finished. */
export function factsSayDone(stage: StageName, read: FactRead, want: WantedStage): boolean {
  return !runOrSkip(stage, read, want, new Set()).run;
}
