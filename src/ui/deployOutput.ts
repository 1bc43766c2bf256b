import type { Logger } from './log.js';

/**
 * The deploy's output: with --json one JSON event per line; on a terminal a live view with one line
 * per host (its current stage and how many stages ran, were skipped or failed); otherwise one plain
 * line per finished stage.
 */
export function deployOutput(opts: { json?: boolean; stream?: NodeJS.WriteStream } = {}): Logger & { done(): void } {
  const out = opts.stream ?? process.stderr;
  const emit = (obj: Record<string, unknown>) => out.write(JSON.stringify({ time: new Date().toISOString(), ...obj }) + '\n');
  if (opts.json) {
    return {
      info: (msg) => emit({ type: 'info', msg }),
      warn: (msg) => emit({ type: 'warn', msg }),
      progress: () => {},
      event: (type, data) => emit({ type, ...data }),
      done() {},
    };
  }
  const tty = Boolean(out.isTTY);
  const rows = new Map<string, { now: string; ran: number; skipped: number; failed: number }>();
  let drawn = 0;
  const redraw = () => {
    if (drawn) out.write(`\x1b[${drawn}A`);
    const width = Math.max(4, ...[...rows.keys()].map((h) => h.length));
    for (const [host, r] of rows) {
      out.write(`\r\x1b[K${host.padEnd(width)}  ${String(r.ran).padStart(3)} ran ${String(r.skipped).padStart(3)} skipped ${String(r.failed).padStart(2)} failed  ${r.now}\n`);
    }
    drawn = rows.size;
  };
  const above = (line: string) => {
    if (tty && drawn) {
      out.write(`\x1b[${drawn}A\r\x1b[J`);
      drawn = 0;
    }
    out.write(line + '\n');
    if (tty) redraw();
  };
  return {
    info: (msg) => above(msg),
    warn: (msg) => above(`warning: ${msg}`),
    progress: () => {},
    event(type, d) {
      if (type !== 'stage' && type !== 'host') return;
      const host = String(d.host);
      const r = rows.get(host) ?? { now: 'connecting', ran: 0, skipped: 0, failed: 0 };
      rows.set(host, r);
      if (type === 'host') {
        r.now = d.status === 'ok' ? 'done' : `FAILED: ${String(d.error ?? '').split('\n')[0]}`;
      } else if (d.status === 'start') {
        r.now = `${d.service} ${d.stage}: ${d.reason}`;
      } else {
        if (d.status === 'ran') r.ran++;
        else if (d.status === 'skipped') r.skipped++;
        else if (d.status === 'failed') r.failed++;
        r.now = `${d.service} ${d.stage} ${d.status}`;
        if (!tty) {
          const extra = d.status === 'ran' ? ` (${d.changed} changed, ${((Number(d.ms) || 0) / 1000).toFixed(1)} s)` : ` (${String(d.reason).split('\n')[0]})`;
          out.write(`${host} ${d.service} ${d.stage}: ${d.status}${extra}\n`);
        }
      }
      if (tty) redraw();
    },
    done() {
      if (tty && drawn) redraw();
    },
  };
}
