/**
 * Whether a shell-style glob (* and ?) matches the whole name. Matched directly, going back only to the
 * last `*`: at most glob × name steps. As a regular expression, a glob with several stars backtracks over
 * every way to split the name among them (`*a*a*a*a*a*b` against a 64-character name of a bundle took a
 * second, against 120 characters hours).
 */
export function globMatches(glob: string, name: string): boolean {
  const g = [...glob];
  const n = [...name];
  let gi = 0;
  let ni = 0;
  let star = -1;
  let resume = 0;
  while (ni < n.length) {
    if (gi < g.length && g[gi] === '*') {
      star = gi++;
      resume = ni;
    } else if (gi < g.length && (g[gi] === '?' || g[gi] === n[ni])) {
      gi++;
      ni++;
    } else if (star >= 0) {
      gi = star + 1;
      ni = ++resume;
    } else {
      return false;
    }
  }
  while (g[gi] === '*') gi++;
  return gi === g.length;
}
