import type { RunStartData, StageEventData } from '../deployEvents.js';
import type { Logger } from '../../ui/log.js';
import { clock, DeployTally } from './deployTally.js';
import { failureLine, firstLine, stageLine } from './deployLines.js';
import { escapeText } from '../../util/escapeText.js';

/** Above this many hosts a terminal shows counters and the running hosts instead of one line per host. */
export const LIVE_HOST_LINES_UP_TO = 20;

export interface LiveOptions {
  out: NodeJS.WriteStream;
  verbose?: boolean;
  /** how often the counters are redrawn (large runs; small runs redraw on every event) */
  refreshMs?: number;
  now?: () => number;
}

/**
 * Deploy output on a terminal, redrawn in place below the lines printed so far. Up to 20 hosts: one
 * line per host (its current stage; stages ran, skipped, failed). More: per stage the hosts done,
 * running and failed, elapsed and estimated time left, then only the hosts running now; a failure is
 * printed above the live view, once, when it happens.
 */
export function liveDeployOutput(o: LiveOptions): Logger & { done(): void } {
  const out = o.out;
  const now = o.now ?? Date.now;
  const tally = new DeployTally();
  const rows = new Map<string, { now: string; ran: number; skipped: number; failed: number }>();
  const failedHosts = new Set<string>();
  let large = false;
  let started = now();
  let timer: NodeJS.Timeout | undefined;
  let drawn = 0;

  const view = (): string[] => {
    if (!large) {
      const width = Math.max(4, ...[...rows.keys()].map((h) => h.length));
      return [...rows].map(([host, r]) => `${host.padEnd(width)}  ${String(r.ran).padStart(3)} ran ${String(r.skipped).padStart(3)} skipped ${String(r.failed).padStart(2)} failed  ${r.now}`);
    }
    const elapsed = now() - started;
    const stages = tally.perStage();
    const width = Math.max(...stages.map(([s]) => s.length));
    const lines = stages.map(([name, t]) => {
      const extra = [t.running && `${t.running} running`, t.failed && `${t.failed} failed`, t.notRun && `${t.notRun} not run`].filter(Boolean).join(', ');
      return `${name.padEnd(width)}  ${String(t.done).padStart(String(t.total).length)}/${t.total} done${extra ? `  ${extra}` : ''}`;
    });
    const left = tally.remainingMs(elapsed);
    lines.push(`${clock(elapsed)} elapsed${left === undefined ? '' : `, about ${clock(left)} left`}`);
    const running = tally.running();
    const room = Math.max(3, (out.rows ?? 24) - lines.length - 2);
    const shown = running.length > room ? running.slice(0, room - 1) : running;
    const hostWidth = Math.max(0, ...shown.map(([h]) => h.length));
    for (const [host, what] of shown) lines.push(`  ${host.padEnd(hostWidth)}  ${what}`);
    if (shown.length < running.length) lines.push(`  … and ${running.length - shown.length} more running`);
    return lines;
  };
  const redraw = () => {
    if (drawn) out.write(`\x1b[${drawn}A`);
    const lines = view();
    for (const line of lines) out.write(`\r\x1b[K${line}\n`);
    // a view that shrank leaves old lines below it: clear them
    if (lines.length < drawn) out.write('\x1b[J');
    drawn = lines.length;
  };
  const above = (line: string) => {
    if (drawn) {
      out.write(`\x1b[${drawn}A\r\x1b[J`);
      drawn = 0;
    }
    out.write(line + '\n');
    redraw();
  };
  const changed = () => {
    if (!large) redraw();
  };

  return {
    eventLines: true,
    info: (msg) => above(escapeText(msg, { keepNewlines: true })),
    warn: (msg) => above(`warning: ${escapeText(msg)}`),
    progress: () => {},
    event(type, d) {
      if (type === 'run-start') {
        const plan = d as RunStartData;
        tally.start(plan);
        started = now();
        large = tally.hostCount > LIVE_HOST_LINES_UP_TO;
        if (large) {
          timer = setInterval(redraw, o.refreshMs ?? 250);
          timer.unref();
        }
        return;
      }
      if (type === 'host') {
        const host = String(d.host);
        const r = rows.get(host) ?? { now: '', ran: 0, skipped: 0, failed: 0 };
        rows.set(host, r);
        if (d.status === 'ok') r.now = 'done';
        else {
          r.now = `FAILED: ${firstLine(d.error)}`;
          tally.hostFailed(host, firstLine(d.error));
          if (large && !failedHosts.has(host)) above(failureLine(host, undefined, d.error));
          failedHosts.add(host);
        }
        return changed();
      }
      if (type !== 'stage') return;
      const e = d as StageEventData;
      tally.stage(e);
      const r = rows.get(e.host) ?? { now: 'connecting', ran: 0, skipped: 0, failed: 0 };
      rows.set(e.host, r);
      if (e.status === 'start') r.now = `${e.service} ${e.stage}: ${firstLine(e.reason)}`;
      else {
        if (e.status === 'ran') r.ran++;
        else if (e.status === 'skipped') r.skipped++;
        else if (e.status === 'failed') r.failed++;
        r.now = `${e.service} ${e.stage} ${e.status}`;
        if (e.status === 'failed') failedHosts.add(e.host);
        if (o.verbose) above(stageLine(e));
        else if (large && e.status === 'failed') above(failureLine(e.host, `${e.service} ${e.stage}`, e.reason));
      }
      changed();
    },
    done() {
      if (timer) clearInterval(timer);
      if (drawn || large) redraw();
    },
  };
}
