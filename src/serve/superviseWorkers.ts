import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../ui/log.js';
import { isWorkerMessage } from './workerMessages.js';
import { timerMs } from '../util/timerMs.js';

export interface SuperviseOptions {
  /** how many worker processes serve (each runs the same `ferry serve` command line) */
  workers: number;
  /** the store as given, for the messages */
  store: string;
  log: Logger;
  /** where the workers' access log lines go (each worker sends whole lines, so lines never mix) */
  accessLog: { write(text: string): unknown };
  /** on SIGTERM/SIGINT, how long the workers' requests in flight may take */
  graceMs: number;
}

/** A worker gets this long past the grace period to exit by itself before it is killed. */
const EXIT_MARGIN_MS = 5_000;

/**
 * The primary process of `ferry serve --workers N`: N workers share the listening sockets (node:cluster
 * hands each new connection to the next worker in turn), so requests use every core. The primary serves
 * nothing itself: it starts the workers, writes their access log lines (one writer, so lines from
 * different workers never interleave mid-line, even on a pipe), replaces a worker that dies, and on
 * SIGTERM/SIGINT tells every worker to finish its requests in flight and waits for all of them.
 *
 * The first worker starts alone: when the store or a `--listen` address cannot be served, it prints the
 * one error and exits, and the primary ends with the same exit code, which this resolves with.
 */
export async function superviseWorkers(opts: SuperviseOptions): Promise<number> {
  const live = new Set<Worker>();
  const ready = new Set<Worker>();
  let urls: string[] = [];
  let stopping = false;
  let failed: number | undefined;
  // wakes up the sequence below whenever a worker becomes ready or exits
  let changed = () => {};
  const next = () => new Promise<void>((resolve) => (changed = resolve));

  const start = () => {
    const worker = cluster.fork();
    live.add(worker);
    worker.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) return;
      if (m.ferry === 'access') opts.accessLog.write(m.text);
      else if (m.ferry === 'ready') {
        ready.add(worker);
        if (urls.length === 0) urls = m.urls;
        changed();
      }
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      const wasReady = ready.delete(worker);
      if (!stopping) {
        if (wasReady) {
          opts.log.warn(`ferry serve worker ${worker.process.pid} ended (${signal ?? `exit ${code}`}); starting another`);
          start();
        } else {
          // it could not start and said why on stderr: the others would fail the same way
          failed = code || 1;
          stop();
        }
      }
      changed();
    });
  };

  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // a worker stops on SIGTERM as `ferry serve` does; one still starting simply ends
    for (const w of live) w.process.kill('SIGTERM');
    killTimer = setTimeout(() => {
      for (const w of live) w.process.kill('SIGKILL');
    }, timerMs(opts.graceMs + EXIT_MARGIN_MS));
    changed();
  };
  const onSignal = (signal: string) => {
    opts.log.info(`${signal}: finishing requests in flight (at most ${opts.graceMs / 1000} s)`);
    stop();
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => onSignal('SIGINT');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);

  try {
    // the first worker alone, then the others; the addresses are announced once all of them serve
    start();
    while (!stopping && ready.size === 0) await next();
    for (let i = 1; i < opts.workers && !stopping; i++) start();
    while (!stopping && ready.size < opts.workers) await next();
    if (!stopping) for (const url of urls) opts.log.info(`serving ${opts.store} on ${url}/ (${opts.workers} worker processes)`);
    while (live.size > 0 || !stopping) await next();
  } finally {
    clearTimeout(killTimer);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
  return failed ?? 0;
}
