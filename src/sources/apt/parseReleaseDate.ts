const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY = `(${WEEKDAYS.join('|')})`;
const MONTH = `(${MONTHS.join('|')})[a-z]*`;
const TIME = '(\\d{1,2}):(\\d{1,2}):(\\d{1,2})';
const ZONE = '(\\S+)';
/** the zones apt takes, case-sensitive */
const ZONES = new Set(['GMT', 'UTC', 'Z', '+0000', '-0000']);
// the three forms apt's RFC1123StrToTime reads, each in UTC
const RFC1123 = new RegExp(`^${DAY},\\s+(\\d{1,2})\\s+${MONTH}\\s+(\\d{4})\\s+${TIME}\\s+${ZONE}$`, 'i');
const RFC850 = new RegExp(`^${DAY}[a-z]+,\\s+(\\d{1,2})-${MONTH}-(\\d{1,4})\\s+${TIME}\\s+${ZONE}$`, 'i');
const ASCTIME = new RegExp(`^${DAY}\\s+${MONTH}\\s+(\\d{1,2})\\s+${TIME}\\s+(\\d{4})$`, 'i');

/**
 * The time (ms since the epoch) a Release's Date or Valid-Until names, read as apt 2.6 reads it
 * (RFC1123StrToTime): "Sun, 06 Nov 1994 08:49:37 GMT" (zone GMT, UTC, Z or ±0000, the one apt-ftparchive
 * writes), "Sunday, 06-Nov-94 08:49:37 GMT" or "Sun Nov  6 08:49:37 1994"; undefined for anything else.
 * Date.parse is no judge: it reads ISO dates, other zones and local times apt refuses, and gives NaN, which
 * compares as neither before nor after any time. Zones are case-sensitive as in apt; names of days and
 * months are not; a day past the month's end rolls over (as timegm does). Stricter than apt's stream
 * reading on garbage it lets through (a month "Foo" read as January, "01Jan", trailing ":00" or ".5").
 */
export function parseReleaseDate(text: string): number | undefined {
  let m = RFC1123.exec(text);
  let parts: [day: string, month: string, year: number, h: string, min: string, s: string] | undefined;
  if (m) parts = ZONES.has(m[8]!) ? [m[2]!, m[3]!, Number(m[4]), m[5]!, m[6]!, m[7]!] : undefined;
  else if ((m = RFC850.exec(text))) parts = ZONES.has(m[8]!) ? [m[2]!, m[3]!, 1900 + Number(m[4]), m[5]!, m[6]!, m[7]!] : undefined;
  else if ((m = ASCTIME.exec(text))) parts = [m[3]!, m[2]!, Number(m[7]), m[4]!, m[5]!, m[6]!];
  if (!parts) return undefined;
  const [day, month, year, h, min, s] = [Number(parts[0]), MONTHS.indexOf(parts[1].slice(0, 3).toLowerCase()), parts[2], Number(parts[3]), Number(parts[4]), Number(parts[5])];
  if (day < 1 || day > 31 || h > 23 || min > 59 || s > 61) return undefined;
  const d = new Date(Date.UTC(2000, month, day, h, min, s));
  d.setUTCFullYear(year, month, day);
  return d.getTime();
}
