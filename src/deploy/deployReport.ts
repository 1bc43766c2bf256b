import type { StageName } from '../specfile/stepOptions.js';

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
