import pep440 from '@renovatebot/pep440';

interface Parsed {
  epoch: number;
  release: number[];
  local: string | null;
  public: string;
  base_version: string;
  is_prerelease: boolean;
  is_postrelease: boolean;
}

const explain = (v: string): Parsed | null => pep440.explain(v) as Parsed | null;
const cmp = (a: string, b: string): number => pep440.compare(a, b);

/**
 * Whether `version` satisfies a comma-separated PEP 440 specifier set, with pre-releases allowed: what
 * packaging's `SpecifierSet(specifier).contains(version, prereleases=True)` answers, which is what pip's
 * resolver asks of a candidate (SpecifierRequirement.is_satisfied_by). Written out here because the
 * version library's own `satisfies` departs from PEP 440 on local versions (`==1.0+cu118` matched
 * `1.0+cpu`), on epochs (`2!1.0` was not `>1.0`) and on the exclusive comparisons (`1.0` was not
 * `>1.0a1`, `1.0.post1` not `>1.0.post0`). A clause PEP 440 cannot read (`>=3.6.*`, `<=1.0+local`) is
 * compared as packaging 21.3 (pip 23.2's) SpecifierSet falls back to, a LegacySpecifier (not with
 * `legacy: false`: markers use Specifier, which has no such fallback). Undefined when the specifier cannot
 * be read even so.
 */
export function satisfiesSpecifier(version: string, specifier: string, opts: { legacy?: boolean } = {}): boolean | undefined {
  const clauses = specifier
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  // every clause is read before any answers: packaging refuses the whole set when one clause cannot be
  // read (`!=3.11.*, 3` is no specifier, so pip ignores such a Requires-Python), even after a false one
  let all = true;
  for (const clause of clauses) {
    const m = /^(===|==|!=|<=|>=|~=|<|>)\s*(.+)$/.exec(clause);
    if (!m) return undefined;
    const ok = satisfiesOne(version, m[1]!, m[2]!.trim()) ?? (opts.legacy === false ? undefined : satisfiesLegacy(version, m[1]!, m[2]!.trim()));
    if (ok === undefined) return undefined;
    all &&= ok;
  }
  return all;
}

function satisfiesOne(version: string, op: string, spec: string): boolean | undefined {
  // arbitrary equality: packaging 21.3 compares str(parse(version)) with the specifier's text,
  // case-insensitively: the normalized spelling of a PEP 440 version (`1.0c1` is "1.0rc1", so `===1.0c1`
  // admits no version), the string itself of any other
  if (op === '===') return /\s/.test(spec) ? undefined : versionText(version).toLowerCase() === spec.toLowerCase();
  const v = explain(version);
  if (!v) return false;
  if (op === '==' || op === '!=') {
    const eq = spec.endsWith('.*') ? prefixMatch(v, spec.slice(0, -2)) : exactMatch(v, spec);
    if (eq === undefined) return undefined;
    return op === '==' ? eq : !eq;
  }
  if (spec.endsWith('.*')) return undefined;
  const s = explain(spec);
  if (!s) return undefined;
  if (op === '~=') {
    if (s.release.length < 2 || s.local) return undefined;
    const prefix = `${s.epoch ? `${s.epoch}!` : ''}${s.release.slice(0, -1).join('.')}`;
    return cmp(v.public, spec) >= 0 && prefixMatch(v, prefix) === true;
  }
  if (s.local) return undefined; // ordered comparisons take no local label
  switch (op) {
    case '<=':
      return cmp(v.public, spec) <= 0;
    case '>=':
      return cmp(v.public, spec) >= 0;
    case '<':
      // <V excludes pre-releases of V itself unless V is one
      if (!(cmp(version, spec) < 0)) return false;
      if (!s.is_prerelease && v.is_prerelease && cmp(v.base_version, s.base_version) === 0) return false;
      return true;
    case '>':
      // >V excludes post-releases and local versions of V itself unless V is a post-release
      if (!(cmp(version, spec) > 0)) return false;
      if (!s.is_postrelease && v.is_postrelease && cmp(v.base_version, s.base_version) === 0) return false;
      if (v.local !== null && cmp(v.base_version, s.base_version) === 0) return false;
      return true;
  }
  return undefined;
}

/** `==V`: a local label on the candidate is ignored unless V has one */
function exactMatch(v: Parsed, spec: string): boolean | undefined {
  const s = explain(spec);
  if (!s) return undefined;
  return cmp(s.local ? versionString(v) : v.public, spec) === 0;
}

/** `==P.*`: the candidate's public version, cut to P's length (zeros padded), equals P */
function prefixMatch(v: Parsed, prefix: string): boolean | undefined {
  const s = explain(prefix);
  if (!s || s.local) return undefined;
  const pv = explain(v.public)!;
  if (pv.epoch !== s.epoch) return false;
  const n = s.release.length;
  const rel = [...pv.release, ...Array(Math.max(0, n - pv.release.length)).fill(0)].slice(0, n);
  if (rel.some((x, i) => x !== s.release[i])) return false;
  // a prefix with a pre/post/dev part ("1.0rc1.*"): the rest of the version must match it too
  if (s.public !== s.base_version) {
    const rest = (x: Parsed) => x.public.slice(x.base_version.length);
    return rest(pv) === rest(s) && s.release.length === pv.release.length;
  }
  return true;
}

/** Whether a version is a pre-release (or a development release) as PEP 440 reads it; false for one it cannot read. */
export function isPrerelease(version: string): boolean {
  return explain(version)?.is_prerelease ?? false;
}

/**
 * packaging 21.3's `Specifier.prereleases` for each clause of a specifier set, any of them: a clause with
 * ==, >=, <=, ~= or === whose version (a `.*` dropped) is a pre-release admits pre-releases in a finder's
 * search (`>=1.0rc1`, `==2.0.dev1`); `!=`, `<`, `>` never do. pip 23.2's finder, asked for a specifier set
 * none of whose clauses does, passes over every pre-release (an empty set falls back to them when nothing
 * else is found).
 */
export function specifierAdmitsPrereleases(specifier: string): boolean {
  return specifier.split(',').some((clause) => {
    const m = /^\s*(===|==|<=|>=|~=)\s*(.+?)\s*$/.exec(clause);
    if (!m) return false;
    return isPrerelease(m[1] === '==' && m[2]!.endsWith('.*') ? m[2]!.slice(0, -2) : m[2]!);
  });
}

/** str(packaging.version.parse(version)): the normalized form of a PEP 440 version, else the string as it is */
export function versionText(version: string): string {
  const clean = pep440.valid(version) === null ? null : pep440.clean(version);
  if (!clean) return version;
  // the library writes a local label's "-" and "_" as ","; PEP 440 normalizes them to "."
  const plus = clean.indexOf('+');
  return plus < 0 ? clean : clean.slice(0, plus + 1) + clean.slice(plus + 1).replace(/[-_,]/g, '.');
}

function versionString(v: Parsed): string {
  return v.local === null ? v.public : `${v.public}+${v.local}`;
}

/**
 * packaging 21.3's fallback for a clause that is not PEP 440 (`>=3.6.*`, `<=1.0+local`): the operators
 * ==, !=, <=, >=, <, > compare "legacy" keys of the two strings (setuptools' old ordering); `~=` and `===`
 * have no fallback. Undefined when the clause is not one of those either.
 */
function satisfiesLegacy(version: string, op: string, spec: string): boolean | undefined {
  if (op === '~=' || op === '===' || /[,;\s)]/.test(spec)) return undefined;
  // the candidate is compared as the string of its parsed (normalized) version
  const c = compareKeys(legacyKey(versionText(version)), legacyKey(spec));
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<=':
      return c <= 0;
    case '>=':
      return c >= 0;
    case '<':
      return c < 0;
    case '>':
      return c > 0;
  }
  return undefined;
}

/** Legacy sort key: numbers zero-padded to 8 digits, words marked with "*", trailing zeros dropped before a word. */
function legacyKey(version: string): string[] {
  const words: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };
  const parts: string[] = [];
  const tokens = version.toLowerCase().split(/(\d+|[a-z]+|\.|-)/);
  for (const raw of [...tokens, '*final']) {
    const t = raw === '*final' ? raw : (words[raw] ?? raw);
    if (t === '' || t === '.') continue;
    const part = t === '*final' ? t : /^[0-9]/.test(t) ? t.padStart(8, '0') : `*${t}`;
    if (part.startsWith('*')) {
      if (part < '*final') while (parts.at(-1) === '*final-') parts.pop();
      while (parts.at(-1) === '00000000') parts.pop();
    }
    parts.push(part);
  }
  return parts;
}

function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length - b.length;
}
