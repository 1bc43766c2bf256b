import type { Logger } from '../../ui/log.js';
import { liveDeployOutput } from './liveDeployOutput.js';
import { plainDeployOutput } from './plainDeployOutput.js';

export interface DeployOutputOptions {
  /** one JSON event per line (the schema in deploy/deployEvents.ts) */
  json?: boolean;
  /** one line per finished stage too */
  verbose?: boolean;
  /** without a terminal: seconds between summary lines (--progress-interval, FERRY_PROGRESS_INTERVAL) */
  intervalSeconds?: number;
  stream?: NodeJS.WriteStream;
}

/** Without --progress-interval or FERRY_PROGRESS_INTERVAL: a summary line every 15 seconds. */
export const DEFAULT_PROGRESS_INTERVAL_SECONDS = 15;

/**
 * The deploy's output on stderr: with --json one JSON event per line; on a terminal a live view
 * (liveDeployOutput); otherwise summary lines at a steady interval and a line per failure (plainDeployOutput).
 */
export function deployOutput(opts: DeployOutputOptions = {}): Logger & { done(): void } {
  const out = opts.stream ?? process.stderr;
  if (opts.json) {
    const emit = (obj: Record<string, unknown>) => out.write(JSON.stringify({ time: new Date().toISOString(), ...obj }) + '\n');
    return {
      info: (msg) => emit({ type: 'info', msg }),
      warn: (msg) => emit({ type: 'warn', msg }),
      progress: () => {},
      event: (type, data) => emit({ type, ...data }),
      done() {},
    };
  }
  if (out.isTTY) return liveDeployOutput({ out, verbose: opts.verbose });
  return plainDeployOutput({ out, verbose: opts.verbose, intervalMs: (opts.intervalSeconds ?? DEFAULT_PROGRESS_INTERVAL_SECONDS) * 1000 });
}
