import { escapeText } from '../util/escapeText.js';

/**
 * Output for humans (stderr, so stdout stays for data and --json) and, with --json, one JSON event per line.
 * Modules take a Logger; they never write to the console themselves.
 */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  /** progress of long work; a terminal shows it in place, plain output prints every ~10 % */
  progress(label: string, done: number, total: number, unit?: 'bytes' | 'items'): void;
  /** a machine-readable event (deploy step results, etc.) */
  event(type: string, data: Record<string, unknown>): void;
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  progress() {},
  event() {},
};

export function consoleLogger(opts: { json?: boolean; quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Logger {
  const out = opts.stream ?? process.stderr;
  const tty = Boolean(out.isTTY) && !opts.json;
  const lastPct = new Map<string, number>();
  let inPlace = false;
  const clear = () => {
    if (inPlace) {
      out.write('\r\x1b[K');
      inPlace = false;
    }
  };
  const emit = (obj: Record<string, unknown>) => out.write(JSON.stringify({ time: new Date().toISOString(), ...obj }) + '\n');
  return {
    info(msg) {
      if (opts.quiet) return;
      if (opts.json) return emit({ type: 'info', msg });
      clear();
      out.write(escapeText(msg, { keepNewlines: true }) + '\n');
    },
    warn(msg) {
      if (opts.json) return emit({ type: 'warn', msg });
      clear();
      out.write(`warning: ${escapeText(msg, { keepNewlines: true })}\n`);
    },
    progress(label, done, total, unit = 'items') {
      if (opts.quiet) return;
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
      if (opts.json) {
        const step = Math.floor(pct / 10);
        if (lastPct.get(label) === step && done < total) return;
        lastPct.set(label, step);
        return emit({ type: 'progress', label, done, total });
      }
      const fmt = (n: number) => (unit === 'bytes' ? formatBytes(n) : String(n));
      if (tty) {
        // in place, once per percent: a download reports every chunk it receives (16,000 per GiB)
        if (lastPct.get(label) === pct && done < total) return;
        lastPct.set(label, pct);
        out.write(`\r\x1b[K${label}: ${fmt(done)}/${fmt(total)} (${pct}%)`);
        inPlace = true;
        if (done >= total) clear();
        return;
      }
      const step = Math.floor(pct / 10);
      if (lastPct.get(label) === step && done < total) return;
      lastPct.set(label, step);
      out.write(`${label}: ${fmt(done)}/${fmt(total)} (${pct}%)\n`);
    },
    event(type, data) {
      if (opts.json) emit({ type, ...data });
    },
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
