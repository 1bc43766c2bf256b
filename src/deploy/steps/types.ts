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
  /** `deploy --repair`: this step's read and compare found drift; act even where a marker says the work is done */
  repair?: boolean;
  /** the step's options pass a value through the `secret` filter: inspections show no content */
  secret?: boolean;
  /**
   * the step's options as the spec wrote them, before rendering: what messages may quote (a rendered
   * option holds inventory values, passwords among them)
   */
  written?: unknown;
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

/** One way a host differs from what a step wants (`ferry plan --check`). */
export interface Difference {
  /** what differs: content, mode, owner, group, state, version, packages, commit, worktree, tree, link, active, enabled, files, image, tag */
  what: string;
  want: string;
  have: string;
  /** file content: a short unified diff, host (-) to wanted (+); absent for secret, binary or large content */
  diff?: string;
  /** why no diff is shown */
  hidden?: string;
}

/** What a step's read and compare found on a host, changing nothing. */
export interface Inspection {
  /** the file, package list, unit, tree... the step manages */
  target: string;
  differences: Difference[];
  /** set when the step cannot be compared without acting (a command without guards): why */
  unchecked?: string;
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
  /** whether a step of these options has an activation at all (default: whenever the kind has `activate`) */
  activates?(params: P): boolean;
  /** read and compare only, changing nothing on the host (`--check`); `--repair` runs the steps that differ */
  inspect(params: P, ctx: StepContext): Promise<Inspection>;
  /** read and compare the switch `activate` makes */
  inspectActivation?(params: P, ctx: StepContext): Promise<Inspection>;
  /** runs under --repair whenever an earlier step of the service changed something (a service restarts for it) */
  followsChanges?: boolean;
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

