import { DeployError } from '../errors.js';
import type { StageName } from '../stages.js';

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

/** The error a run that did not succeed ends with: the failed hosts, why the rollout stopped, and what to do. */
export function deployFailure(report: DeployReport): DeployError {
  const failed = report.hosts.filter((h) => h.error).map((h) => h.host);
  return new DeployError(
    `${failed.length ? `${failed.length} host${failed.length > 1 ? 's' : ''} failed (${failed.join(', ')})` : 'the rollout stopped'}${report.stopped ? `; ${report.stopped}` : ''}; fix the cause and run the same command again: completed stages are skipped`,
  );
}
