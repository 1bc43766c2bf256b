/** One served (or refused) request. */
export interface AccessLogEntry {
  time: string;
  remote: string;
  method: string;
  /** the request target as sent (the log cuts it at 1024 characters) */
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

/** Longest kept of each client-chosen field: a client sending an 8 KB User-Agent made every line of its requests 8 KB. */
const FIELD_MAX = { target: 1024, ua: 512, range: 128, reason: 512 } as const;

/** `text` cut at `max` characters, marked when cut. */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[${text.length - max} more]`;
}

/**
 * What JSON.stringify leaves as it is but a terminal or a log viewer reads as control: C1 controls (a header
 * byte 0x9b arrives as U+009B, CSI, which starts an escape sequence) and the Unicode line and paragraph
 * separators. Escaped as \uXXXX, valid in JSON and in the plain format's quoted fields.
 */
const UNSAFE_RE = /[\u007f-\u009f\u2028\u2029]/;
const UNSAFE_ALL_RE = new RegExp(UNSAFE_RE.source, 'g');
const escapeUnsafe = (line: string) => (UNSAFE_RE.test(line) ? line.replace(UNSAFE_ALL_RE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : line);

/** The entry with its client-chosen fields cut (see FIELD_MAX); the same object when none is too long. */
function bounded(e: AccessLogEntry): AccessLogEntry {
  if (e.target.length <= FIELD_MAX.target && (e.ua?.length ?? 0) <= FIELD_MAX.ua && (e.range?.length ?? 0) <= FIELD_MAX.range && (e.reason?.length ?? 0) <= FIELD_MAX.reason) return e;
  return {
    ...e,
    target: cut(e.target, FIELD_MAX.target),
    ...(e.ua !== undefined ? { ua: cut(e.ua, FIELD_MAX.ua) } : {}),
    ...(e.range !== undefined ? { range: cut(e.range, FIELD_MAX.range) } : {}),
    ...(e.reason !== undefined ? { reason: cut(e.reason, FIELD_MAX.reason) } : {}),
  };
}

/**
 * One line per request on `out`: JSON objects with `json`, otherwise a space-separated line whose
 * free-text fields are JSON-quoted, so a hostile path or user agent cannot forge a second line; C1
 * controls and Unicode line separators, which JSON leaves as they are, are escaped too, and the fields a
 * client chooses (target, User-Agent, Range) are cut (FIELD_MAX).
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
    if (pending.push(escapeUnsafe(line)) === 1) setImmediate(flush);
  };
  if (opts.json) return (e) => push(JSON.stringify(bounded(e)) + '\n');
  return (entry) => {
    const e = bounded(entry);
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
