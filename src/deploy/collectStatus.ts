import { type Failure, isComplete, type TookOver, type StageState, stageStates } from './fact.js';
import { forEachHost, type SshOptions } from './forEachHost.js';
import { hostSettings } from './hostSettings.js';
import type { Inventory, InventoryHost } from './loadInventory.js';
import { readHostStatus } from './readFacts.js';
import { type RetryPolicy, retryTransient } from './retryTransient.js';
import { STAGES, type StageName } from '../stages.js';
import { planService } from './planDeploy.js';
import { prepareTargets, type ServiceTarget } from './prepareTargets.js';
import type { Release } from '../store/loadRelease.js';

export interface StatusRow {
  host: string;
  service: string;
  release?: string;
  /** the release's name alone (for --expect, which answers for one release) */
  releaseName?: string;
  version?: string;
  digest?: string;
  /** per stage: done, pending (configure has yet to activate), failed, outdated or missing, for that digest */
  stages?: Record<StageName, StageState>;
  /** the last failure recorded, when the service has not completed since */
  failure?: Failure;
  /** every stage carries the digest's keys, nothing is pending and no failure is recorded */
  complete: boolean;
  /** a fact that could not be read */
  problem?: string;
  /** for a service not complete: the bundle whose configure last completed on this host (what its services were last brought to), when any */
  configured?: string;
  /** the bundles the host may run: the fact's digest when complete, else also each stage's and a pending activation's */
  named?: string[];
  /**
   * the facts show it complete, but a deploy of its bundle would run a stage again (the inventory's variables
   * changed that stage's key since it ran): the stages and plan's reasons, `configure: inventory variables changed`
   */
  outdated?: string;
  /** a service the release the host runs no longer has: when, and that release (`NAME VERSION`, digest) */
  retired?: { time: string; release: string; digest: string };
  /** another release's service this one replaced here (deploy --take-over), kept by later bundles of its name */
  tookOver?: TookOver;
  /** a run holds the host now, and this stage, which the facts show did not finish, is the one it runs: the stage and the holder */
  running?: { stage: StageName; by: string };
}

export interface StatusResult {
  rows: StatusRow[];
  unreachable: Array<{ host: string; error: string }>;
  /** bundles of complete services whose release could not be had to compute their keys, and why: their services' variables are not checked */
  unchecked?: Array<{ digest: string; reason: string }>;
  /** hosts a run holds now (a deploy or rollback going on there), and its holder line */
  held?: Array<{ host: string; by: string }>;
}

/** Gather every host's facts: which release (bundle digest) each service runs, and how far it got. */
export async function collectStatus(opts: {
  inventory: Inventory;
  hosts: InventoryHost[];
  factsDir?: string;
  forks?: number;
  ssh?: SshOptions;
  retry?: RetryPolicy;
  /** per host, how long reading its facts may take (default FACTS_TIMEOUT_MS) */
  timeoutMs?: number;
  /**
   * the release of a bundle digest (from the store), or why there is none: with it, a service the facts show
   * complete is checked the way ferry plan checks it, with the inventory's variables as they are now
   */
  release?: (digest: string) => Promise<Release | string>;
}): Promise<StatusResult> {
  const rows: StatusRow[] = [];
  const unreachable: StatusResult['unreachable'] = [];
  const held: NonNullable<StatusResult['held']> = [];
  const unchecked = new Map<string, string>();
  // per bundle once: the release and what it gives each host, with the keys of today's variables
  const targets = new Map<string, Promise<{ release: Release; byHost: Map<string, ServiceTarget[]> } | string>>();
  const targetsOf = (digest: string) => {
    let t = targets.get(digest);
    if (!t) {
      t = (async () => {
        try {
          const release = await opts.release!(digest);
          if (typeof release === 'string') return release;
          return { release, byHost: new Map(prepareTargets(release, opts.inventory, opts.hosts, { factsDir: opts.factsDir }).map((h) => [h.host.name, h.services])) };
        } catch (err) {
          return (err as Error).message;
        }
      })();
      targets.set(digest, t);
    }
    return t;
  };
  const items = opts.hosts.map((host) => ({ host, settings: hostSettings(host, opts.inventory.file, opts.factsDir) }));
  await forEachHost(items, opts, async ({ host, settings }, transport) => {
    try {
      const { facts, heldBy } = await retryTransient(opts.retry ?? { retries: 2, delayMs: 500 }, () => readHostStatus(transport, host.name, settings.factsDir, settings.dataDir, opts.timeoutMs));
      if (heldBy !== undefined) held.push({ host: host.name, by: heldBy });
      for (const [service, read] of facts) {
        if (!read.fact) {
          rows.push({ host: host.name, service, complete: false, problem: 'problem' in read ? read.problem : undefined });
          continue;
        }
        // (a fact another host wrote, or for another service, is a problem: readFacts)
        const f = read.fact;
        // complete: the host runs f.digest (a stage an older bundle did has the same key); otherwise it may still
        // run what each stage last completed for
        const factComplete = isComplete(f);
        let complete = factComplete;
        const stages = stageStates(f);
        let outdated: string | undefined;
        if (factComplete && !f.retired && opts.release) {
          const t = await targetsOf(f.digest);
          const svc = typeof t === 'string' ? undefined : t.byHost.get(host.name)?.find((s) => s.name === service);
          if (typeof t === 'string') unchecked.set(f.digest, t);
          else if (svc) {
            // what ferry plan of this bundle shows: a stage the facts show done whose key today's variables change runs again
            const runs = planService(host.name, svc, read, t.release, STAGES, new Set()).filter((r) => r.run);
            for (const r of runs) stages[r.stage] = 'outdated';
            if (runs.length) {
              complete = false;
              outdated = runs.map((r) => `${r.stage}: ${r.reason}`).join(', ');
            }
          }
        }
        const named = factComplete ? [f.digest] : [...new Set([f.digest, ...Object.values(f.stages).map((s) => s.digest), ...(f.pending ? [f.pending.digest] : [])])];
        const configured = f.stages.configure?.digest;
        const retired = f.retired && { time: f.retired.time, release: `${f.retired.release.name} ${f.retired.release.version}`, digest: f.retired.digest };
        // a stage marked unfinished on a host a run holds now is the one that run is in, not one a stopped run left
        const running = heldBy !== undefined && f.failure?.unfinished ? { stage: f.failure.stage, by: heldBy } : undefined;
        rows.push({ host: host.name, service, release: `${f.release.name} ${f.release.version}`, releaseName: f.release.name, version: f.version, digest: f.digest, stages, failure: f.failure, complete, ...(outdated ? { outdated } : {}), ...(configured && !factComplete ? { configured } : {}), named, ...(retired ? { retired } : {}), ...(running ? { running } : {}), ...(f.tookOver ? { tookOver: f.tookOver } : {}) });
      }
    } catch (err) {
      unreachable.push({ host: host.name, error: (err as Error).message });
    }
  });
  const order = new Map(opts.hosts.map((h, i) => [h.name, i]));
  rows.sort((a, b) => order.get(a.host)! - order.get(b.host)! || (a.service < b.service ? -1 : 1));
  // in the inventory's order too, not the order the hosts failed in: the lines that name the first five
  // (gc -i, rollback) named different hosts from one run to the next
  unreachable.sort((a, b) => order.get(a.host)! - order.get(b.host)!);
  held.sort((a, b) => order.get(a.host)! - order.get(b.host)!);
  return { rows, unreachable, unchecked: [...unchecked].map(([digest, reason]) => ({ digest, reason })), held };
}
