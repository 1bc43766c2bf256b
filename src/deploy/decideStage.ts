import type { FactRead } from './readFacts.js';
import type { StageName } from '../stages.js';

export interface Decision {
  run: boolean;
  reason: string;
}

export interface WantedStage {
  version: string;
  digest: string;
  key: string;
}

/** Run or skip one stage of one service on one host, and say why (ferry plan prints the reason). */
export function decideStage(stage: StageName, read: FactRead, want: WantedStage, force: ReadonlySet<string>): Decision {
  if (force.has(stage) || force.has('all')) return { run: true, reason: `forced (--force ${force.has(stage) ? stage : 'all'})` };
  if (!read.fact) return { run: true, reason: read.problem ? `${read.problem}, running again` : 'not deployed yet' };
  // the last attempt of this stage for this bundle failed, or did not finish (a first attempt, a forced
  // run, a repair): what an earlier run completed says nothing about it any more, and ferry status shows
  // it failed until it completes
  const failure = read.fact.failure;
  if (failure?.stage === stage && failure.digest === want.digest) {
    return { run: true, reason: failure.unfinished ? `${stage} did not finish (started ${failure.time}), running again` : `${stage} failed at ${failure.time}, running again` };
  }
  const done = read.fact.stages[stage];
  if (!done) return { run: true, reason: `${stage} not completed yet` };
  if (done.version !== want.version) return { run: true, reason: `version ${done.version} -> ${want.version}` };
  if (done.key !== want.key) {
    if (done.digest !== want.digest) return { run: true, reason: `bundle changed (${done.digest.slice(0, 12)} -> ${want.digest.slice(0, 12)})` };
    return { run: true, reason: stage === 'configure' ? 'inventory variables changed' : 'inputs changed' };
  }
  // install prepared something in an earlier run that no configure has activated (and restarted for) yet
  const pending = read.fact.pending;
  if (stage === 'configure' && pending) return { run: true, reason: `activation pending since ${pending.since} (install changed: ${pending.changes.join(', ')})` };
  return { run: false, reason: done.digest === want.digest ? `done ${done.time}` : `done ${done.time} (unchanged since bundle ${done.digest.slice(0, 12)})` };
}

/** Whether the facts alone (no --force) would skip the stage: a run of it then first records that it has not finished. */
export function factsSayDone(stage: StageName, read: FactRead, want: WantedStage): boolean {
  return !decideStage(stage, read, want, new Set()).run;
}
