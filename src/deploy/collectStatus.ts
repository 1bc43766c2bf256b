import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pMap from 'p-map';
import type { Inventory, InventoryHost } from './loadInventory.js';
import { openTransport } from './openTransport.js';
import { DEFAULT_DATA_DIR } from './prepareTargets.js';
import { readFacts } from './readFacts.js';
import { renderVars } from './renderTemplate.js';
import { type RetryPolicy, retryTransient } from './retryTransient.js';
import { STAGES } from './steps/types.js';

export interface StatusRow {
  host: string;
  service: string;
  release?: string;
  version?: string;
  digest?: string;
  /** every stage completed for that service version */
  complete: boolean;
  /** a fact that could not be read */
  problem?: string;
}

export interface StatusResult {
  rows: StatusRow[];
  unreachable: Array<{ host: string; error: string }>;
}

/** Gather every host's facts: which release (bundle digest) each service runs, and whether it finished. */
export async function collectStatus(opts: {
  inventory: Inventory;
  hosts: InventoryHost[];
  factsDir?: string;
  forks?: number;
  ssh?: { configFile?: string; program?: string };
  retry?: RetryPolicy;
}): Promise<StatusResult> {
  const controlDir = await mkdtemp(join(tmpdir(), 'fy-'));
  const rows: StatusRow[] = [];
  const unreachable: StatusResult['unreachable'] = [];
  try {
    await pMap(
      opts.hosts,
      async (host) => {
        const vars = renderVars(host.vars, `inventory ${opts.inventory.file}, host ${host.name}`);
        const dataDir = typeof vars.ferry_data_dir === 'string' ? vars.ferry_data_dir : DEFAULT_DATA_DIR;
        const factsDir = opts.factsDir ?? (typeof vars.ferry_facts_dir === 'string' ? vars.ferry_facts_dir : `${dataDir}/facts`);
        const transport = openTransport(host, { controlDir, configFile: opts.ssh?.configFile, program: opts.ssh?.program });
        try {
          const facts = await retryTransient(opts.retry ?? { retries: 2, delayMs: 500 }, () => readFacts(transport, host.name, factsDir, undefined));
          for (const [service, read] of facts) {
            if (!read.fact) {
              rows.push({ host: host.name, service, complete: false, problem: 'problem' in read ? read.problem : undefined });
              continue;
            }
            const f = read.fact;
            const complete = STAGES.every((s) => f.stages[s]?.version === f.version);
            rows.push({ host: host.name, service, release: `${f.release.name} ${f.release.version}`, version: f.version, digest: f.digest, complete });
          }
        } catch (err) {
          unreachable.push({ host: host.name, error: (err as Error).message });
        } finally {
          await transport.close();
        }
      },
      { concurrency: Math.max(1, opts.forks ?? 10) },
    );
  } finally {
    await rm(controlDir, { recursive: true, force: true });
  }
  const order = new Map(opts.hosts.map((h, i) => [h.name, i]));
  rows.sort((a, b) => order.get(a.host)! - order.get(b.host)! || (a.service < b.service ? -1 : 1));
  return { rows, unreachable };
}
