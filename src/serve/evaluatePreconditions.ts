import type { IncomingHttpHeaders } from 'node:http';

export interface Validators {
  /** quoted strong entity tag, e.g. `"<sha256>"` */
  etag: string;
  /** modification time, whole seconds as HTTP dates carry; none: the date conditions are ignored (RFC 9110 §13.1.3, §13.1.4) */
  lastModified?: Date;
}

/**
 * What the conditional request headers decide (RFC 9110 §13.2.2 order):
 * - `'precondition-failed'`: If-Match / If-Unmodified-Since failed, answer 412;
 * - `'not-modified'`: If-None-Match / If-Modified-Since matched, answer 304;
 * - `'full'` / `'range'`: send the body; `'range'` only when a Range may be honoured (If-Range matched or absent).
 */
export function evaluatePreconditions(headers: IncomingHttpHeaders, v: Validators): 'precondition-failed' | 'not-modified' | 'range' | 'full' {
  const seconds = v.lastModified === undefined ? undefined : Math.floor(v.lastModified.getTime() / 1000);
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesEntityTag(ifMatch, v.etag, true)) return 'precondition-failed';
  } else {
    const ius = parseHttpDate(headers['if-unmodified-since']);
    if (ius !== undefined && seconds !== undefined && seconds > ius) return 'precondition-failed';
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (matchesEntityTag(ifNoneMatch, v.etag, false)) return 'not-modified';
  } else {
    const ims = parseHttpDate(headers['if-modified-since']);
    if (ims !== undefined && seconds !== undefined && seconds <= ims) return 'not-modified';
  }
  const ifRange = headers['if-range'];
  if (typeof ifRange !== 'string') return 'range';
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === v.etag ? 'range' : 'full';
  const date = parseHttpDate(value);
  return date !== undefined && seconds !== undefined && date === seconds ? 'range' : 'full';
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

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MON = MONTHS.join('|');
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** RFC 9110 §5.6.7: IMF-fixdate, the obsolete RFC 850 form (two-digit year) and asctime, each always GMT. */
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MON}) (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\\d{2})-(${MON})-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MON}) ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * An HTTP-date in whole seconds, or undefined for anything else, which the conditional header is then ignored
 * for (RFC 9110 §13.1.3: MUST ignore a value that is not a valid HTTP-date). Date.parse took any date it could
 * guess ("3000", "2026-11-25", a local-time asctime), so "If-Modified-Since: 3000" made every file 304.
 */
function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  // [day, month, year, hh, mm, ss]
  let parts: string[];
  let m: RegExpExecArray | null;
  if ((m = IMF_FIXDATE.exec(v))) parts = m.slice(1);
  else if ((m = RFC850_DATE.exec(v))) {
    // a two-digit year more than 50 years ahead is the most recent past year with those digits
    const now = new Date().getUTCFullYear();
    let year = Math.floor(now / 100) * 100 + Number(m[3]);
    if (year > now + 50) year -= 100;
    parts = [m[1]!, m[2]!, String(year), m[4]!, m[5]!, m[6]!];
  } else if ((m = ASCTIME_DATE.exec(v))) parts = [m[2]!.trim(), m[1]!, m[6]!, m[3]!, m[4]!, m[5]!];
  else return undefined;
  const [day, hh, mm, ss] = [parts[0], parts[3], parts[4], parts[5]].map(Number) as [number, number, number, number];
  const mon = MONTHS.indexOf(parts[1]!);
  const ms = Date.UTC(Number(parts[2]), mon, day, hh, mm, ss);
  const d = new Date(ms);
  // no 31 February, no 25:00 (Date.UTC would roll them over)
  if (d.getUTCDate() !== day || d.getUTCMonth() !== mon || d.getUTCHours() !== hh || d.getUTCMinutes() !== mm || ss > 59) return undefined;
  return Math.floor(ms / 1000);
}
