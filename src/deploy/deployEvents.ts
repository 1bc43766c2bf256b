import * as z from '../util/zod.js';
import type { Logger } from '../ui/log.js';
import { STAGES } from '../stages.js';

/**
 * The events of `ferry deploy --json` (one JSON object per line on stderr), as a schema: what monitoring
 * and CI may rely on (docs/deploy.md, "Events"). Fields are only added with this schema and the docs; a
 * change that would break a reader gets a new `format` in run-start. Objects are strict, so the test that
 * validates a lab run's events also catches a field nobody documented.
 */
export const DEPLOY_EVENTS_FORMAT = 'ferry-deploy-events/1';

const stage = z.enum(STAGES);
const host = z.string();
const when = { time: z.string().datetime() };

export const StepTargetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('file'), path: z.string() }).strict(),
  z.object({ kind: z.literal('packages'), names: z.array(z.string()).min(1) }).strict(),
  z.object({ kind: z.literal('service'), name: z.string() }).strict(),
  z.object({ kind: z.literal('tree'), path: z.string() }).strict(),
  z.object({ kind: z.literal('command'), program: z.string(), creates: z.string().optional() }).strict(),
  z.object({ kind: z.literal('artifacts'), count: z.number().int().min(0), path: z.string() }).strict(),
  z.object({ kind: z.literal('image'), ref: z.string(), runtime: z.string() }).strict(),
]);

const counts = z.object({ ran: z.number().int(), skipped: z.number().int(), failed: z.number().int(), notRun: z.number().int() }).strict();

export const RunStartEvent = z
  .object({
    type: z.literal('run-start'),
    format: z.literal(DEPLOY_EVENTS_FORMAT),
    release: z.object({ name: z.string(), version: z.string(), digest: z.string() }).strict(),
    /** the stages this run considers, in order */
    stages: z.array(stage),
    forks: z.number().int(),
    serial: z.string(),
    maxFailPercent: z.number().optional(),
    /** every host the run works on, with the services it gets (hosts without services do nothing) */
    hosts: z.array(z.object({ host, services: z.array(z.object({ name: z.string(), version: z.string() }).strict()) }).strict()),
  })
  .strict();

export const BatchEvent = z
  .object({ type: z.literal('batch'), index: z.number().int().min(1), total: z.number().int().min(1), hosts: z.array(host) })
  .strict();

export const StageEvent = z
  .object({
    type: z.literal('stage'),
    host,
    service: z.string(),
    stage,
    status: z.enum(['start', 'ran', 'skipped', 'failed', 'not run']),
    reason: z.string(),
    /** on every status but start: steps (or artifacts) that changed something, and the stage's duration */
    changed: z.number().int().optional(),
    ms: z.number().optional(),
  })
  .strict();

export const StepEvent = z
  .object({
    type: z.literal('step'),
    host,
    /** "-" for work on the host as a whole (removing old releases) */
    service: z.string(),
    stage,
    /** the step's kind ("template"), "activate KIND" for switching to what install prepared, "artifacts", "prune" */
    step: z.string(),
    /** its place in the service's steps of that stage (install's for an activation), as in services.S.STAGE[N] */
    index: z.number().int().min(0).optional(),
    target: StepTargetSchema,
    changed: z.boolean(),
    detail: z.string(),
    ms: z.number(),
  })
  .strict();

export const RetryEvent = z.object({ type: z.literal('retry'), host, error: z.string(), attempt: z.number().int(), waitMs: z.number() }).strict();

/** A host failed (when it does), or finished well (at the end); a host the rollout did not reach gets none. */
export const HostEvent = z
  .object({ type: z.literal('host'), host, status: z.enum(['ok', 'failed']), commands: z.number().int().optional(), error: z.string().optional() })
  .strict();

export const MessageEvent = z.object({ type: z.enum(['info', 'warn']), msg: z.string() }).strict();

export const RunEndEvent = z
  .object({
    type: z.literal('run-end'),
    ok: z.boolean(),
    ms: z.number(),
    stopped: z.string().optional(),
    /** total: the hosts the release deploys to; noService (when any): hosts the run only held, given no service, not in total */
    hosts: z.object({ total: z.number().int(), ok: z.number().int(), failed: z.number().int(), notReached: z.number().int(), noService: z.number().int().optional() }).strict(),
    /** per stage, host and service pairs that ran, were skipped, failed, or were not run */
    stages: z.object(Object.fromEntries(STAGES.map((s) => [s, counts])) as Record<(typeof STAGES)[number], typeof counts>).strict(),
    failures: z.array(z.object({ host, service: z.string().optional(), stage: stage.optional(), reason: z.string() }).strict()),
  })
  .strict();

/** A step whose read and compare found the host differing (`--check`, and `--repair` before it repairs, with `repair: true`). */
export const DriftEvent = z
  .object({
    type: z.literal('drift'),
    host,
    service: z.string(),
    stage,
    step: z.string(),
    target: z.string(),
    differences: z.array(z.object({ what: z.string(), want: z.string(), have: z.string(), diff: z.string().optional(), hidden: z.string().optional() }).strict()).min(1),
    repair: z.literal(true).optional(),
  })
  .strict();

const events = [RunStartEvent, BatchEvent, StageEvent, StepEvent, RetryEvent, HostEvent, RunEndEvent, DriftEvent] as const;

/** One line of `deploy --json` on stderr: an event and the time it was written. */
export const DeployEventLine = z.discriminatedUnion('type', [
  RunStartEvent.extend(when),
  BatchEvent.extend(when),
  StageEvent.extend(when),
  StepEvent.extend(when),
  RetryEvent.extend(when),
  HostEvent.extend(when),
  RunEndEvent.extend(when),
  DriftEvent.extend(when),
  MessageEvent.extend(when),
]);

type Events = z.infer<(typeof events)[number]>;
export type DeployEvent = Events;
export type StageEventData = z.infer<typeof StageEvent>;
export type RunStartData = z.infer<typeof RunStartEvent>;
export type RunEndData = z.infer<typeof RunEndEvent>;

/** Emit a deploy event, checked against the schema's type at compile time. */
export function deployEvent<T extends DeployEvent['type']>(log: Logger, type: T, data: Omit<Extract<DeployEvent, { type: T }>, 'type'>): void {
  log.event(type, data as Record<string, unknown>);
}
