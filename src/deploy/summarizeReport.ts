import type { DeployReport, HostOutcome } from './deployReport.js';
import { STAGES, type StageName } from '../stages.js';

export interface StageCounts {
  ran: number;
  skipped: number;
  failed: number;
  notRun: number;
}

export interface RunSummary {
  /**
   * The hosts the release deploys to (total), and of those: ok, every stage ran or was skipped; notReached, no
   * failure but a stage not run (the rollout stopped first). noService: hosts the run only held (the release,
   * or --services, gives them no service), not in total: nothing was deployed there to be ok; absent when none.
   */
  hosts: { total: number; ok: number; failed: number; notReached: number; noService?: number };
  /** per stage, host and service pairs by outcome */
  stages: Record<StageName, StageCounts>;
  /** each failed stage with its reason, and each host that failed outside any stage (its lock, its connection) */
  failures: Array<{ host: string; service?: string; stage?: StageName; reason: string }>;
  /** stages not run, grouped by why: "host failed earlier", "rollout stopped (--max-fail-percent)" */
  notRun: Array<{ stage: StageName; reason: string; where: string[] }>;
}

/**
 * How a host ended: `failed` (it has an error), `no service` (the release, or --services, gives it none: the
 * run only held it, and did not deploy anything there to be ok), `not reached` (no failure, but a stage not
 * run: the rollout stopped first), else `ok` (every stage it considers ran or was skipped).
 */
export function hostResult(h: HostOutcome): 'ok' | 'failed' | 'not reached' | 'no service' {
  if (h.error) return 'failed';
  if (Object.keys(h.services).length === 0) return 'no service';
  return Object.values(h.services).some((outcomes) => Object.values(outcomes).some((o) => o?.status === 'not run')) ? 'not reached' : 'ok';
}

/** What a deploy did, counted: the final report and the run-end event both print it, at any number of hosts. */
export function summarizeReport(report: DeployReport): RunSummary {
  const stages = Object.fromEntries(STAGES.map((s) => [s, { ran: 0, skipped: 0, failed: 0, notRun: 0 }])) as Record<StageName, StageCounts>;
  const failures: RunSummary['failures'] = [];
  const notRun = new Map<string, RunSummary['notRun'][number]>();
  let notReached = 0;
  let noService = 0;
  for (const h of report.hosts) {
    let stageFailed = false;
    for (const [service, outcomes] of Object.entries(h.services)) {
      for (const stage of STAGES) {
        const o = outcomes[stage];
        if (!o) continue;
        if (o.status === 'ran') stages[stage].ran++;
        else if (o.status === 'skipped') stages[stage].skipped++;
        else if (o.status === 'failed') {
          stages[stage].failed++;
          stageFailed = true;
          failures.push({ host: h.host, service, stage, reason: o.reason });
        } else {
          stages[stage].notRun++;
          const key = `${stage}\n${o.reason}`;
          const group = notRun.get(key) ?? { stage, reason: o.reason, where: [] };
          group.where.push(`${h.host} ${service}`);
          notRun.set(key, group);
        }
      }
    }
    if (h.error && !stageFailed) failures.push({ host: h.host, reason: h.error });
    const result = hostResult(h);
    if (result === 'not reached') notReached++;
    if (result === 'no service') noService++;
  }
  const failed = report.hosts.filter((h) => h.error).length;
  const total = report.hosts.length - noService;
  return { hosts: { total, ok: total - failed - notReached, failed, notReached, ...(noService ? { noService } : {}) }, stages, failures, notRun: [...notRun.values()] };
}
