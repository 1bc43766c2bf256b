/**
 * Debian version comparison as Debian policy §5.6.12 defines it (and dpkg implements it):
 * [epoch:]upstream[-revision]; epochs compare numerically, then upstream and revision each by
 * alternating non-digit and digit runs. In non-digit runs letters sort before non-letters and `~`
 * sorts before everything, even the end of the string ("1.0~rc1" < "1.0").
 * Returns <0, 0 or >0 like a sort comparator.
 */
export function compareDebVersions(a: string, b: string): number {
  const va = splitVersion(a);
  const vb = splitVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  return comparePart(va.upstream, vb.upstream) || comparePart(va.revision, vb.revision);
}

interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

function splitVersion(v: string): DebVersion {
  const s = v.trim();
  const colon = s.indexOf(':');
  // dpkg treats a missing epoch as 0 and a missing revision as "" (which compares equal to "0").
  const epoch = colon >= 0 ? Number.parseInt(s.slice(0, colon), 10) || 0 : 0;
  const rest = colon >= 0 ? s.slice(colon + 1) : s;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) } : { epoch, upstream: rest, revision: '' };
}

/** dpkg's order for one character of a non-digit run: ~ < end < letters < everything else. */
function order(c: number): number {
  if (c >= 48 && c <= 57) return 0; // digit: ends the run
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c;
  if (c === 126) return -1; // ~
  return c + 256;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function comparePart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    // non-digit run, compared character by character (end of string counts as 0)
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = i < a.length ? order(a.charCodeAt(i)) : 0;
      const bc = j < b.length ? order(b.charCodeAt(j)) : 0;
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    // digit run, compared numerically without overflow: skip leading zeros, then length, then digits
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    while (i < a.length && isDigit(a.charCodeAt(i)) && j < b.length && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}
