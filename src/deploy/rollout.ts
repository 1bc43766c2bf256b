import pMap from 'p-map';
import { parseSerial } from './parseSerial.js';

export interface RolloutHost {
  name: string;
  failed: boolean;
}

export interface RolloutOptions {
  /** configure batches: "1" (default), "25%", "1,5,25%" */
  serial?: string;
  /** stop the rollout when more than this percentage of all hosts failed */
  maxFailPercent?: number;
  forks: number;
}

/**
 * Configure in batches (--serial), one batch after the other; before each batch, stop when more
 * than --max-fail-percent of all hosts failed (earlier stages count too). Returns why it stopped
 * (counting the hosts not reached: those left that had not failed already), and the hosts left unconfigured.
 */
export async function rollout<H extends RolloutHost>(all: H[], todo: H[], opts: RolloutOptions, onBatch: (batch: H[], index: number, total: number) => void, work: (host: H) => Promise<void>): Promise<{ stopped?: string; notReached: H[] }> {
  const sizes = parseSerial(opts.serial ?? '1', todo.length);
  let at = 0;
  for (const [i, size] of sizes.entries()) {
    const failed = all.filter((h) => h.failed).length;
    if (opts.maxFailPercent !== undefined && all.length > 0 && (failed * 100) / all.length > opts.maxFailPercent) {
      const rest = todo.slice(at);
      // hosts left that had failed already (in stage or install) were not going to be configured anyway
      const unreached = rest.filter((h) => !h.failed).length;
      const what = unreached ? `${unreached} host${unreached === 1 ? '' : 's'} not reached` : 'the hosts left had all failed';
      return { stopped: `${failed} of ${all.length} hosts failed, more than --max-fail-percent ${opts.maxFailPercent}; the rollout stopped, ${what}`, notReached: rest };
    }
    const batch = todo.slice(at, at + size);
    at += size;
    onBatch(batch, i + 1, sizes.length);
    await pMap(batch, work, { concurrency: Math.max(1, opts.forks) });
  }
  return { notReached: [] };
}
