import type { StageName } from '../../stages.js';
import type { Release } from '../../store/loadRelease.js';
import type { Transport } from '../transport/types.js';

export interface StepContext {
  host: string;
  service: string;
  stage: StageName;
  transport: Transport;
  release: Release;
  /** where the host keeps ferry's data (bundles, keys), default /var/lib/ferry */
  dataDir: string;
  /** DATA/bundles/DIGEST on the host: where the stage stage put this release's artifacts */
  remoteBundle: string;
  /** the host's variables plus ferry_* values, for templates */
  vars: Record<string, unknown>;
  /** something this service changed earlier in this run (a service step restarts on it) */
  changedSoFar: boolean;
  timeoutMs: number;
  /** --push: artifacts travel over ssh; otherwise the host fetches them from `server` (ferry serve) */
  push: boolean;
  server?: string;
  /** how long ferry's policy-rc.d may hold services on the host before it removes itself (seconds; default: the command timeout) */
  policyRcSeconds?: number;
}

export interface StepResult {
  changed: boolean;
  /** what changed, or why nothing did */
  detail: string;
}

/**
 * What a kind of step does on a host, the way pyinfra shapes operations: read the host's state,
 * compare, act only on difference. Its options' schema is the spec's (specfile/stepOptions.ts).
 */
export interface StepKind<P = unknown> {
  name: string;
  /** problems that can be seen before touching any host (a file the bundle lacks...) */
  check?(params: P, service: string, release: Release): string[];
  run(params: P, ctx: StepContext): Promise<StepResult>;
  /** for install steps that prepare a tree beside the live one: switch to it (run in configure) */
  activate?(params: P, ctx: StepContext): Promise<StepResult>;
  /** what the step acts on, for the step events of `deploy --json` (never a command's text: it may hold secrets) */
  target(params: P): StepTarget;
}

/** What a step acts on: a file, packages, a service, a tree (venv, rootfs, git checkout), a program, the staged artifacts, or a container image. */
export type StepTarget =
  | { kind: 'file'; path: string }
  | { kind: 'packages'; names: string[] }
  | { kind: 'service'; name: string }
  | { kind: 'tree'; path: string }
  | { kind: 'command'; program: string; creates?: string }
  | { kind: 'artifacts'; count: number; path: string }
  | { kind: 'image'; ref: string; runtime: string };

