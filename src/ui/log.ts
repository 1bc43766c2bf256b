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
  /** it turns deploy events into lines for people (a FAILED line per failed stage): a refusal its own one line reports sends it none */
  readonly eventLines?: true;
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
      // one line, like a refusal: a warning quotes bundle, index and host strings too
      out.write(`warning: ${escapeText(msg)}\n`);
    },
    progress(label, done, total, unit = 'items') {
      if (opts.quiet) return;
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
      // callers may report every chunk (a download: 16,000 per GiB): redrawn in place once per percent on a
      // terminal, else a line or an event per 10 %, and always the last
      const step = tty ? pct : Math.floor(pct / 10);
      if (lastPct.get(label) === step && done < total) return;
      lastPct.set(label, step);
      if (opts.json) return emit({ type: 'progress', label, done, total });
      const line = `${label}: ${unit === 'bytes' ? `${formatBytes(done)}/${formatBytes(total)}` : `${done}/${total}`} (${pct}%)`;
      if (!tty) return void out.write(`${line}\n`);
      out.write(`\r\x1b[K${line}`);
      inPlace = true;
      if (done >= total) clear();
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
