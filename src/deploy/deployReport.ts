import { DeployError } from '../errors.js';
import { STAGES, type StageName } from '../stages.js';

export type StageStatus = 'ran' | 'skipped' | 'failed' | 'not run';

export interface StageOutcome {
  status: StageStatus;
  reason: string;
  /** steps (or artifacts) that changed something */
  changed: number;
  ms: number;
  /** failed without running: the stages before it are not done for this bundle on the host (the reason names what to run) */
  refused?: true;
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

/** The error a run that did not succeed ends with: the failed hosts, why the rollout stopped, and what to do. */
export function deployFailure(report: DeployReport): DeployError {
  const failed = report.hosts.filter((h) => h.error).map((h) => h.host);
  const outcomes = (h: HostOutcome) => Object.values(h.services).flatMap((s) => Object.values(s));
  // the same command would be refused the same way: it needs the stages before the last one refused
  const last = Math.max(-1, ...report.hosts.flatMap((h) => Object.values(h.services).flatMap((s) => STAGES.filter((st) => s[st]?.refused).map((st) => STAGES.indexOf(st)))));
  const needed = last < 0 ? undefined : `--stages ${STAGES.slice(0, last + 1).join(',')} (or without --stages)`;
  const onlyRefused = needed && !report.stopped && report.hosts.filter((h) => h.error).every((h) => outcomes(h).some((o) => o?.refused) && !outcomes(h).some((o) => o?.status === 'failed' && !o.refused));
  const advice = onlyRefused ? `run it with ${needed}: completed stages are skipped` : `fix the cause and run the same command again${needed ? `, with ${needed} where a stage was refused` : ''}: completed stages are skipped`;
  return new DeployError(`${failed.length ? `${failed.length} host${failed.length > 1 ? 's' : ''} failed (${failed.join(', ')})` : 'the rollout stopped'}${report.stopped ? `; ${report.stopped}` : ''}; ${advice}`);
}
