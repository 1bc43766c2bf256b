import type { Logger } from '../ui/log.js';
import { deployEvent } from './deployEvents.js';
import { forEachHost } from './forEachHost.js';
import { inspectStage, type StepInspection } from './inspectStage.js';
import type { PlanOptions } from './planDeploy.js';
import { prepareTargets } from './prepareTargets.js';
import { retryTransient } from './retryTransient.js';
import { stepContext } from './stepContext.js';
import { STAGES, type StageName } from '../stages.js';

export interface DriftRow extends StepInspection {
  host: string;
  service: string;
  stage: StageName;
}

export interface DriftResult {
  release: { name: string; version: string; digest: string };
  /** every step that differs on a host, in host, service and stage order */
  drift: DriftRow[];
  /** steps read and compared */
  inspected: number;
  /** steps that cannot be compared without acting (commands without a creates guard) */
  unchecked: DriftRow[];
  /** hosts that could not be checked, with the reason (unreachable, a template that does not render...) */
  failed: Array<{ host: string; error: string }>;
  hosts: number;
}

export type DriftOptions = Omit<PlanOptions, 'force'> & { timeoutMs?: number; log?: Logger };

/**
 * `ferry plan --check`: every step of every selected service and stage runs its read and compare on
 * the hosts, whatever the facts say, and reports what differs. Changes nothing on the hosts: no lock,
 * no facts written, only reading commands (a command step's unless/onlyif guards are not run).
 * A `drift` event per differing step goes to the logger as it is found.
 */
export async function checkDrift(opts: DriftOptions): Promise<DriftResult> {
  const { release } = opts;
  // a host the release gives no service has nothing to compare: it is not counted among the hosts checked
  const targets = prepareTargets(release, opts.inventory, opts.hosts, { services: opts.services, factsDir: opts.factsDir }).filter((t) => t.services.length);
  const stages = opts.stages ?? [...STAGES];
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  const all: DriftRow[] = [];
  const failed: DriftResult['failed'] = [];
  await forEachHost(targets, opts, async (t, transport) => {
    const found: DriftRow[] = [];
    try {
      for (const svc of t.services) {
        for (const stage of stages) {
          const ctx = stepContext(t, svc, stage, transport, release, timeoutMs);
          const steps = await retryTransient(opts.retry ?? { retries: 2, delayMs: 500 }, () => inspectStage(ctx, svc));
          for (const s of steps) {
            const row = { host: t.host.name, service: svc.name, stage, ...s };
            found.push(row);
            if (s.differences.length && opts.log) deployEvent(opts.log, 'drift', { host: row.host, service: row.service, stage, step: s.step, target: s.target, differences: s.differences });
          }
        }
      }
      all.push(...found);
    } catch (err) {
      failed.push({ host: t.host.name, error: (err as Error).message });
    }
  });
  const order = new Map(targets.map((t, i) => [t.host.name, i]));
  const services = Object.keys(release.manifest.services);
  all.sort((a, b) => order.get(a.host)! - order.get(b.host)! || services.indexOf(a.service) - services.indexOf(b.service) || STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage));
  failed.sort((a, b) => order.get(a.host)! - order.get(b.host)!);
  return {
    release: { name: release.manifest.name, version: release.manifest.version, digest: release.digest },
    drift: all.filter((r) => r.differences.length),
    inspected: all.filter((r) => !r.unchecked).length,
    unchecked: all.filter((r) => r.unchecked),
    failed,
    hosts: targets.length,
  };
}
