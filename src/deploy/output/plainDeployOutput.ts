import type { RunStartData, StageEventData } from '../deployEvents.js';
import type { Logger } from '../../ui/log.js';
import { DeployTally } from './deployTally.js';
import { failureLine, firstLine, stageLine } from './deployLines.js';
import { escapeText } from '../../util/escapeText.js';
import { timerMs } from '../../util/timerMs.js';

export interface ProgressOptions {
  out: NodeJS.WritableStream;
  /** one line per finished stage too (-v) */
  verbose?: boolean;
  /** how often the summary line is printed */
  intervalMs: number;
  now?: () => number;
}

/**
 * Deploy output without a terminal (CI logs, a pipe): a summary line at a steady interval (per stage,
 * hosts done/running/failed, elapsed, estimated time left), one line per failure when it happens, and
 * a last summary at the end; the per-stage lines only with -v. At 200 hosts a log stays readable.
 */
export function plainDeployOutput(o: ProgressOptions): Logger & { done(): void } {
  const now = o.now ?? Date.now;
  const tally = new DeployTally();
  const failedHosts = new Set<string>();
  let started: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  const write = (line: string) => o.out.write(line + '\n');
  const summary = () => write(`progress: ${tally.line(now() - started!)}`);
  return {
    eventLines: true,
    info: (msg) => write(escapeText(msg, { keepNewlines: true })),
    warn: (msg) => write(`warning: ${escapeText(msg)}`),
    progress: () => {},
    event(type, d) {
      if (type === 'run-start') {
        tally.start(d as RunStartData);
        started = now();
        timer = setInterval(summary, timerMs(o.intervalMs));
        timer.unref();
      } else if (type === 'stage') {
        const e = d as StageEventData;
        tally.stage(e);
        if (e.status === 'failed') {
          failedHosts.add(e.host);
          write(failureLine(e.host, `${e.service} ${e.stage}`, e.reason));
        } else if (o.verbose && e.status !== 'start') write(stageLine(e));
      } else if (type === 'host' && d.status === 'failed') {
        const host = String(d.host);
        tally.hostFailed(host, firstLine(d.error));
        if (!failedHosts.has(host)) write(failureLine(host, undefined, d.error));
        failedHosts.add(host);
      }
    },
    done() {
      if (timer) clearInterval(timer);
      if (started !== undefined) summary();
    },
  };
}
