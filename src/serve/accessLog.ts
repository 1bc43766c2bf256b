/** One served (or refused) request. */
export interface AccessLogEntry {
  time: string;
  remote: string;
  method: string;
  /** the request target as sent, cut at 1024 characters */
  target: string;
  status: number;
  /** body bytes sent */
  bytes: number;
  /** milliseconds from the request to the last byte (or the abort) */
  ms: number;
  range?: string;
  /** the bundle a release name resolved to */
  bundle?: string;
  /** why a request was refused or failed (never sent to the client) */
  reason?: string;
  /** the client went away before the body was complete */
  aborted?: boolean;
  ua?: string;
}

export type AccessLog = (entry: AccessLogEntry) => void;

/**
 * One line per request on `out`: JSON objects with `json`, otherwise a space-separated line whose
 * free-text fields are JSON-quoted, so a hostile path or user agent cannot forge a second line.
 * Lines are gathered and written once per turn of the event loop: a write per request would be a
 * system call per request (standard output to a file is synchronous) and cost a third of the
 * small-file throughput.
 */
export function createAccessLog(out: { write(text: string): unknown }, opts: { json?: boolean } = {}): AccessLog {
  let pending: string[] = [];
  const flush = () => {
    const text = pending.join('');
    pending = [];
    out.write(text);
  };
  const push = (line: string) => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
  if (opts.json) return (e) => push(JSON.stringify(e) + '\n');
  return (e) => {
    let line = `${e.time} ${e.remote} ${e.method} ${JSON.stringify(e.target)} ${e.status} ${e.bytes} ${e.ms.toFixed(1)}ms`;
    if (e.range !== undefined) line += ` range=${JSON.stringify(e.range)}`;
    if (e.bundle !== undefined) line += ` bundle=${e.bundle.slice(0, 12)}`;
    if (e.aborted) line += ' aborted';
    if (e.reason !== undefined) line += ` reason=${JSON.stringify(e.reason)}`;
    if (e.ua !== undefined) line += ` ua=${JSON.stringify(e.ua)}`;
    push(line + '\n');
  };
}

/** Access log text waiting for standard output beyond this is dropped (see boundedOutput). */
export const ACCESS_LOG_PENDING_MAX = 8 * 1024 * 1024;

/**
 * Standard output for the access log, bounded: node writes to a pipe asynchronously, keeping in memory whatever the
 * reader has not taken yet. A reader that stops (a stalled log shipper, a paused terminal) made every request
 * grow the server's memory by its log line, without end (30,000 requests with an 8 KB User-Agent: +320 MB).
 * While more than `max` bytes wait, further lines are dropped; once the output has drained, `onDropped` is told
 * how many (a warning, on standard error: the access log itself holds only request lines).
 */
export function boundedOutput(out: NodeJS.WritableStream & { writableLength: number }, onDropped: (lines: number) => void, max = ACCESS_LOG_PENDING_MAX): { write(text: string): unknown } {
  let dropped = 0;
  let waiting = false;
  return {
    write(text: string) {
      if (out.writableLength <= max) return out.write(text);
      if (!waiting) {
        // one listener however many lines are dropped meanwhile
        waiting = true;
        out.once('drain', () => {
          waiting = false;
          if (dropped > 0) onDropped(dropped);
          dropped = 0;
        });
      }
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) dropped++;
      return false;
    },
  };
}
