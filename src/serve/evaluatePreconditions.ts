import type { IncomingHttpHeaders } from 'node:http';

export interface Validators {
  /** quoted strong entity tag, e.g. `"<sha256>"` */
  etag: string;
  /** modification time, whole seconds as HTTP dates carry */
  lastModified: Date;
}

/**
 * What the conditional request headers decide (RFC 9110 §13.2.2 order):
 * - `'precondition-failed'`: If-Match / If-Unmodified-Since failed, answer 412;
 * - `'not-modified'`: If-None-Match / If-Modified-Since matched, answer 304;
 * - `'full'` / `'range'`: send the body; `'range'` only when a Range may be honoured (If-Range matched or absent).
 */
export function evaluatePreconditions(headers: IncomingHttpHeaders, v: Validators): 'precondition-failed' | 'not-modified' | 'range' | 'full' {
  const seconds = Math.floor(v.lastModified.getTime() / 1000);
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesEntityTag(ifMatch, v.etag, true)) return 'precondition-failed';
  } else {
    const ius = parseHttpDate(headers['if-unmodified-since']);
    if (ius !== undefined && seconds > ius) return 'precondition-failed';
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (matchesEntityTag(ifNoneMatch, v.etag, false)) return 'not-modified';
  } else {
    const ims = parseHttpDate(headers['if-modified-since']);
    if (ims !== undefined && seconds <= ims) return 'not-modified';
  }
  const ifRange = headers['if-range'];
  if (typeof ifRange !== 'string') return 'range';
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === v.etag ? 'range' : 'full';
  const date = parseHttpDate(value);
  return date !== undefined && date === seconds ? 'range' : 'full';
}

/** `*` or a comma-separated list of entity tags; weak comparison ignores the W/ prefix, strong refuses weak tags. */
function matchesEntityTag(list: string, etag: string, strong: boolean): boolean {
  if (list.trim() === '*') return true;
  return list.split(',').some((raw) => {
    const t = raw.trim();
    if (t.startsWith('W/')) return !strong && t.slice(2) === etag;
    return t === etag;
  });
}

function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}
