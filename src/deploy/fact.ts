import * as z from '../util/zod.js';
import { STAGES, type StageName } from '../stages.js';
import { NAME_RE } from '../util/names.js';
import { DeployError } from '../errors.js';
import { escapeText } from '../util/escapeText.js';

export const FACT_FORMAT = 'ferry-fact/1';

/**
 * A bundle digest as ferry writes it (sha256, lowercase hex). Facts come from the host: a digest that is not one
 * (an escape sequence, a release name, a prefix) makes the fact unreadable, never a string that status prints,
 * gc and rollback look up in the store, or rollback orders releases by.
 */
const Digest = z.string().regex(/^[0-9a-f]{64}$/);

const StageFact = z.looseObject({
  /** when the stage completed */
  time: z.string(),
  version: z.string(),
  digest: Digest,
  /** sha256 over everything the stage depends on; equal key = nothing to do */
  key: z.string(),
  /** sha256 over the service's own artifacts (path and sha256 of each) */
  artifacts: z.string(),
  /** per artifact path its sha256 (the stage stage only: what is on the host) */
  files: z.record(z.string(), z.string()).optional(),
  changed: z.number().int().min(0),
});
export type StageFact = z.infer<typeof StageFact>;

/** The last stage that failed for this service on this host; cleared when that stage completes. */
const FailureBase = z.looseObject({
  stage: z.enum(STAGES),
  /** the step (or "artifacts") that failed, when known */
  step: z.string().optional(),
  time: z.string(),
  message: z.string(),
  digest: Digest,
});
const Failure = FailureBase.extend({
  /**
   * written before a stage the fact shows done runs again (--force, --repair), and replaced when it
   * completes or fails: a run stopped in between (Ctrl-C, a runner gone) leaves it, so the stage is not
   * taken as done. `time` is when it started.
   */
  unfinished: z.literal(true).optional(),
  /**
   * the failure of another stage it stands in front of (or that stage's mark that it had not finished), kept when this
   * stage fails too, and recorded again when this stage completes
   */
  earlier: FailureBase.optional(),
});
export type Failure = z.infer<typeof Failure>;
export type FailureBase = z.infer<typeof FailureBase>;

/**
 * The failure (or mark that it had not finished) recorded for `stage`: the fact's failure, or one it keeps in
 * front of it (`earlier`, put back when that stage completes): the stage is not done while it has one. Read as
 * deep as a fact can keep them (one per stage); a kept one that is not a failure counts for nothing.
 */
export function stageFailure(f: Fact, stage: StageName): FailureBase | undefined {
  let at: FailureBase | undefined = f.failure;
  for (let depth = 0; at && depth < STAGES.length; depth++) {
    if (at.stage === stage) return at;
    const next = FailureBase.safeParse(at.earlier);
    at = next.success ? next.data : undefined;
  }
  return undefined;
}

/**
 * What install changed and configure has not yet activated and restarted for: kept across runs (a
 * `--stages stage,install` before a maintenance window, or a run stopped between the two), cleared
 * only when configure, health checks included, completed.
 */
const Pending = z.looseObject({ since: z.string(), digest: Digest, changes: z.array(z.string()) });
export type Pending = z.infer<typeof Pending>;

/**
 * A service the release the host now runs does not have (for this host): ferry no longer deploys it there.
 * Set by the deploy that brought the host completely to that release; what the service installed stays.
 */
const Retired = z.looseObject({
  time: z.string(),
  /** the release that no longer has it, which the host runs */
  digest: Digest,
  release: z.object({ name: z.string(), version: z.string() }),
});
export type Retired = z.infer<typeof Retired>;

/**
 * The service of another release this one replaced on the host (`deploy --take-over`): that release and
 * its bundle, and `by`, the bundle that took it over. Later bundles of the same name keep it, so that a
 * rollback of the bundle that took it over puts that release back instead of going to an older one of its
 * own name, which never ran there.
 */
const TookOver = z.looseObject({
  time: z.string(),
  release: z.object({ name: z.string(), version: z.string() }),
  digest: Digest,
  by: Digest,
});
export type TookOver = z.infer<typeof TookOver>;

/** The checkpoint a service leaves on a host: FACTS_DIR/SERVICE.json. */
export const Fact = z.looseObject({
  format: z.literal(FACT_FORMAT),
  service: z.string(),
  host: z.string(),
  /** the service version and bundle digest this host is being brought to (or runs) */
  version: z.string(),
  digest: Digest,
  release: z.object({ name: z.string(), version: z.string() }),
  /** the stage keys of that digest: the service is complete when every stage carries them */
  keys: z.partialRecord(z.enum(STAGES), z.string()).optional(),
  stages: z.partialRecord(z.enum(STAGES), StageFact),
  pending: Pending.optional(),
  failure: Failure.optional(),
  retired: Retired.optional(),
  tookOver: TookOver.optional(),
});
export type Fact = z.infer<typeof Fact>;

export type StageState = 'done' | 'pending' | 'failed' | 'outdated' | 'missing';

/**
 * Per stage, how far the service is with the digest its fact names: done (the stage carries the
 * digest's key), failed (the last attempt failed, for this digest or another), pending (configure still has to activate what
 * install prepared), outdated (done for other inputs) or missing.
 */
export function stageStates(f: Fact): Record<(typeof STAGES)[number], StageState> {
  return Object.fromEntries(
    STAGES.map((s) => {
      const done = f.stages[s];
      // a failed attempt for another bundle too (a rollback not yet configured): it changed the host after the stage last completed
      if (stageFailure(f, s)) return [s, 'failed'];
      if (!done) return [s, 'missing'];
      if (!f.keys || f.keys[s] !== done.key) return [s, 'outdated'];
      if (s === 'configure' && f.pending) return [s, 'pending'];
      return [s, 'done'];
    }),
  ) as Record<(typeof STAGES)[number], StageState>;
}

/** Complete for its digest: every stage carries the digest's key, nothing pending, no failure recorded. */
export function isComplete(f: Fact): boolean {
  return !f.failure && Object.values(stageStates(f)).every((s) => s === 'done');
}

/**
 * FACTS_DIR/SERVICE.json. The manifest reader already refuses such names; this check keeps a fact
 * inside its folder even for a caller that skipped it.
 */
export function factFile(factsDir: string, service: string): string {
  if (!NAME_RE.test(service)) throw new DeployError(`refusing the fact of service "${escapeText(service)}": not a plain name, its file would not stay in ${factsDir}`);
  return `${factsDir}/${service}.json`;
}
