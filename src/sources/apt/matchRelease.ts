import { compareDebVersions } from './compareDebVersions.js';
import type { AptPackage } from './types.js';

/**
 * Whether `p` comes from the release a request `name/RELEASE` names, as apt-get's `pkg/release` matches it
 * (pkgVersionMatch, Release): `*` is every release; a RELEASE that starts with a digit is the Release's
 * `Version`, whole or, with a trailing `*`, as a prefix (`12` is 12 and not 12.4, `12*` both); any other is a
 * shell pattern (fnmatch, `*`, `?`, `[…]`) on its Suite or Codename, in any case; not the folder under dists/.
 */
export function fromRelease(p: AptPackage, release: string): boolean {
  if (release === '*') return true;
  if (/^[0-9]/.test(release)) {
    const version = p.origin.releaseVersion?.toLowerCase();
    if (version === undefined) return false;
    const want = release.toLowerCase();
    return want.endsWith('*') ? version.startsWith(want.slice(0, -1)) : version === want;
  }
  const pattern = globPattern(release);
  return (p.origin.releaseNames ?? [p.origin.suite]).some((n) => pattern.test(n));
}

/**
 * The version of `versions` that `name/RELEASE` takes: the highest one from that release, as apt's
 * pkgVersionMatch::Find walks a package's versions highest first (whatever their pins).
 */
export function releaseVersionOf(versions: readonly AptPackage[] | undefined, release: string): AptPackage | undefined {
  let best: AptPackage | undefined;
  for (const v of versions ?? []) if (fromRelease(v, release) && (!best || compareDebVersions(v.version, best.version) > 0)) best = v;
  return best;
}

const patterns = new Map<string, RegExp>();

/** fnmatch(3) with FNM_CASEFOLD alone, as a regular expression: `*` and `?` match any character, `/` and a leading `.` too. */
function globPattern(glob: string): RegExp {
  let re = patterns.get(glob);
  if (re) return re;
  const literal = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '[^]*';
    else if (c === '?') out += '[^]';
    else if (c === '\\' && i + 1 < glob.length) out += literal(glob[++i]!);
    else if (c === '[') {
      // a bracket expression runs to the next "]" that is not its first character; without one "[" is itself
      let j = i + 1;
      const negate = glob[j] === '!' || glob[j] === '^';
      if (negate) j++;
      const first = j;
      while (j < glob.length && (glob[j] !== ']' || j === first)) j++;
      if (j >= glob.length) {
        out += '\\[';
        continue;
      }
      const body = [...glob.slice(first, j)].map((ch, k, all) => (ch === '-' && k > 0 && k < all.length - 1 ? '-' : literal(ch))).join('');
      out += `[${negate ? '^' : ''}${body}]`;
      i = j;
    } else out += literal(c);
  }
  re = new RegExp(`^${out}$`, 'i');
  patterns.set(glob, re);
  return re;
}
