import pMap from 'p-map';
import { parseSerial } from './parseSerial.js';

export interface RolloutHost {
  name: string;
  failed: boolean;
  /** failed because something failed on it, not only refused (a refused stage changed nothing there) */
  broken: boolean;
}

export interface RolloutOptions {
  /** configure batches: "1" (default), "25%", "1,5,25%" */
  serial?: string;
  /** stop the rollout when more than this percentage of all hosts (those the release deploys to) failed */
  maxFailPercent?: number;
  forks: number;
}

/**
 * Configure in batches (--serial), one batch after the other; before each batch, stop when more
 * than --max-fail-percent of all hosts failed (earlier stages count too). Without --max-fail-percent,
 * stop when every host a batch configured failed (as Ansible's serial does; a host only refused, where
 * nothing ran, does not count): with the default --serial 1,
 * at the first host whose configure (a health check) failed, before the next host is touched. Returns
 * why it stopped (counting the hosts not reached: those left that had not failed already), the option
 * it stopped for, and the hosts left unconfigured.
 */
export async function rollout<H extends RolloutHost>(all: H[], todo: H[], opts: RolloutOptions, onBatch: (batch: H[], index: number, total: number) => void, work: (host: H) => Promise<void>): Promise<{ stopped?: string; stoppedBy?: string; notReached: H[] }> {
  const sizes = parseSerial(opts.serial ?? '1', todo.length);
  let at = 0;
  let batchFailed: string | undefined;
  for (const [i, size] of sizes.entries()) {
    const failed = all.filter((h) => h.failed).length;
    const overLimit = opts.maxFailPercent !== undefined && all.length > 0 && (failed * 100) / all.length > opts.maxFailPercent;
    if (overLimit || batchFailed) {
      const rest = todo.slice(at);
      // hosts left that had failed already (in stage or install) were not going to be configured anyway
      const unreached = rest.filter((h) => !h.failed).length;
      const what = unreached ? `${unreached} host${unreached === 1 ? '' : 's'} not reached` : 'the hosts left had all failed';
      if (overLimit) return { stopped: `${failed} of ${all.length} hosts failed, more than --max-fail-percent ${opts.maxFailPercent}; the rollout stopped, ${what}`, stoppedBy: '--max-fail-percent', notReached: rest };
      return { stopped: `${batchFailed}; the rollout stopped, ${what} (--max-fail-percent 100 goes on past a failed batch)`, stoppedBy: '--serial', notReached: rest };
    }
    const batch = todo.slice(at, at + size);
    at += size;
    onBatch(batch, i + 1, sizes.length);
    // the hosts this batch configures: those that had not failed in an earlier stage
    const fresh = batch.filter((h) => !h.failed);
    await pMap(batch, work, { concurrency: Math.max(1, opts.forks) });
    if (opts.maxFailPercent === undefined && fresh.length && fresh.every((h) => h.broken)) {
      batchFailed = `configure failed on every host of batch ${i + 1}/${sizes.length} (${fresh.map((h) => h.name).join(', ')})`;
    }
  }
  return { notReached: [] };
}
