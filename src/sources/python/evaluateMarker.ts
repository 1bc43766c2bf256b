import pep440 from '@renovatebot/pep440';
import { normalizeProjectName } from './normalizeProjectName.js';
import { satisfiesSpecifier, versionText } from './satisfiesSpecifier.js';
import { quoteInput } from '../../util/oneLine.js';

/** PEP 508 environment: the values markers are evaluated against (all strings). */
export type MarkerEnvironment = Record<string, string>;

type Node =
  | { type: 'or' | 'and'; items: Node[] }
  | { type: 'cmp'; left: Operand; op: string; right: Operand };
type Operand = { variable: string } | { literal: string };

/** Legacy spellings that packaging still accepts, mapped to the PEP 508 names. */
const ALIASES: Record<string, string> = {
  'os.name': 'os_name',
  'sys.platform': 'sys_platform',
  'platform.version': 'platform_version',
  'platform.machine': 'platform_machine',
  'platform.python_implementation': 'platform_python_implementation',
  python_implementation: 'platform_python_implementation',
};
const VARIABLES = new Set([
  'python_version',
  'python_full_version',
  'os_name',
  'sys_platform',
  'platform_release',
  'platform_system',
  'platform_version',
  'platform_machine',
  'platform_python_implementation',
  'implementation_name',
  'implementation_version',
  'extra',
  ...Object.keys(ALIASES),
]);

export class MarkerSyntaxError extends Error {}

/**
 * Evaluate a PEP 508 environment marker ("python_version < '3.12' and sys_platform == 'linux'") for an
 * environment, the way pip 23.2's packaging (21.3) does: a comparison whose operator and right side form a
 * valid version specifier compares versions (a pre-release only where the specifier names one), anything
 * else compares strings; `extra`
 * is true when any of `extras` (or none, the empty string) makes the marker true.
 * Variables the environment lacks are reported through `onUnknown` and compare as "".
 */
export function evaluateMarker(marker: string, env: MarkerEnvironment, extras: string[] = [], onUnknown?: (variable: string) => void, extraNames: ExtraNames = 'pep685'): boolean {
  const tree = parseMarker(marker);
  const candidates = ['', ...extras.map(extraNames === 'pep685' ? normalizeProjectName : safeExtra)];
  return candidates.some((extra) => evaluate(tree, { ...env, extra }, onUnknown, extraNames));
}

/**
 * How `extra` compares: 'pep685' normalizes both sides as PEP 685 says (pip >= 23.3); 'pip23.2' is what
 * pip 23.2 does: the requested extra spelled as safeExtra gives, compared as a plain string with the
 * marker's literal (`a[Some_Extra]` is "some_extra", which `extra == "some-extra"` does not match).
 */
export type ExtraNames = 'pep685' | 'pip23.2';

/** pip 23.2's (and pkg_resources') safe_extra: runs of characters other than letters, digits, "." and "-" become "_", lowercased. */
export function safeExtra(extra: string): string {
  return extra.replace(/[^A-Za-z0-9.-]+/g, '_').toLowerCase();
}

/**
 * Deepest nesting of parentheses a marker may have. Real ones have one or two levels; the parser and the
 * evaluation go down one level per parenthesis, so 100,000 of them (200 KB of a wheel's METADATA)
 * ran out of stack and were reported as "Maximum call stack size exceeded". pip's parser (packaging)
 * recurses too, and stops at Python's recursion limit, a few hundred levels.
 */
const MAX_MARKER_DEPTH = 200;

export function parseMarker(marker: string): Node {
  const tokens = tokenize(marker);
  let i = 0;
  let depth = 0;
  const peek = () => tokens[i];
  const expect = (what: string) => {
    const t = tokens[i++];
    if (t?.value !== what) throw new MarkerSyntaxError(`expected "${what}" in marker ${quoteInput(marker, 200)}, found ${t ? quoteInput(t.value) : 'the end'}`);
  };
  const operand = (): Operand => {
    const t = tokens[i++];
    if (!t) throw new MarkerSyntaxError(`marker ${quoteInput(marker, 200)} ends too early`);
    if (t.kind === 'string') return { literal: t.value };
    if (t.kind === 'word' && VARIABLES.has(t.value)) return { variable: ALIASES[t.value] ?? t.value };
    throw new MarkerSyntaxError(`unknown marker variable ${quoteInput(t.value)} in ${quoteInput(marker, 200)}`);
  };
  const atom = (): Node => {
    if (peek()?.value === '(') {
      i++;
      if (++depth > MAX_MARKER_DEPTH) throw new MarkerSyntaxError(`marker ${quoteInput(marker, 200)} nests parentheses more than ${MAX_MARKER_DEPTH} deep`);
      const inner = or();
      expect(')');
      depth--;
      return inner;
    }
    const left = operand();
    const t = tokens[i++];
    let op: string;
    if (t?.kind === 'op') op = t.value;
    else if (t?.value === 'in') op = 'in';
    else if (t?.value === 'not' && peek()?.value === 'in') {
      i++;
      op = 'not in';
    } else throw new MarkerSyntaxError(`expected a comparison in marker ${quoteInput(marker, 200)}`);
    return { type: 'cmp', left, op, right: operand() };
  };
  // a chain of "and" (or "or") is one node holding its terms, evaluated in a loop: a chain of 10,000 terms
  // (a left-deep tree evaluated by recursion) ran out of stack too
  const and = (): Node => {
    const items = [atom()];
    while (peek()?.value === 'and') {
      i++;
      items.push(atom());
    }
    return items.length === 1 ? items[0]! : { type: 'and', items };
  };
  const or = (): Node => {
    const items = [and()];
    while (peek()?.value === 'or') {
      i++;
      items.push(and());
    }
    return items.length === 1 ? items[0]! : { type: 'or', items };
  };
  const tree = or();
  if (i !== tokens.length) throw new MarkerSyntaxError(`unexpected ${quoteInput(tokens[i]!.value)} in marker ${quoteInput(marker, 200)}`);
  return tree;
}

function tokenize(s: string): Array<{ kind: 'string' | 'word' | 'op' | 'paren'; value: string }> {
  const out: Array<{ kind: 'string' | 'word' | 'op' | 'paren'; value: string }> = [];
  const re = /\s*(?:(['"])(.*?)\1|(===|==|!=|<=|>=|~=|<|>)|([()])|([A-Za-z_][A-Za-z0-9_.]*))/y;
  let pos = 0;
  while (pos < s.length) {
    if (/^\s*$/.test(s.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw new MarkerSyntaxError(`cannot read marker ${quoteInput(s, 200)} at ${quoteInput(s.slice(pos).trim())}`);
    pos = re.lastIndex;
    if (m[1]) out.push({ kind: 'string', value: m[2]! });
    else if (m[3]) out.push({ kind: 'op', value: m[3] });
    else if (m[4]) out.push({ kind: 'paren', value: m[4] });
    else out.push({ kind: 'word', value: m[5]! });
  }
  return out;
}

/** Variables whose value markerEnvironment guessed (MAJOR.MINOR.0, the spec naming no patch release). */
const guessed = (env: MarkerEnvironment, variable: string) => (env['ferry:guessed'] ?? '').split(' ').includes(variable);

/** What to warn when a marker uses a variable that evaluateMarker reported through `onUnknown`. */
export function uncertainVariableNote(variable: string, env: MarkerEnvironment): string {
  if (guessed(env, variable)) {
    return `the marker uses ${variable}, taken as ${env[variable]}: targets.python names no patch release; check that the result holds for the hosts' Python (${env.python_version}.x) and pin accordingly, or give targets.python.version as MAJOR.MINOR.PATCH`;
  }
  return `the marker uses ${variable}, which the target does not define; it compares as ""`;
}

function isPrerelease(version: string): boolean {
  return (pep440.explain(version) as { is_prerelease?: boolean } | null)?.is_prerelease === true;
}

function evaluate(node: Node, env: MarkerEnvironment, onUnknown: ((v: string) => void) | undefined, extraNames: ExtraNames): boolean {
  // as Python's `or` and `and`: left to right, stopping at the first term that decides
  if (node.type !== 'cmp') {
    const term = (item: Node) => evaluate(item, env, onUnknown, extraNames);
    return node.type === 'or' ? node.items.some(term) : node.items.every(term);
  }
  const value = (o: Operand) => {
    if ('literal' in o) return o.literal;
    const v = env[o.variable];
    if (v === undefined) {
      onUnknown?.(o.variable);
      return '';
    }
    // known only up to MAJOR.MINOR (markerEnvironment): reported too, its value is a guess
    if (guessed(env, o.variable)) onUnknown?.(o.variable);
    return v;
  };
  let lhs = value(node.left);
  let rhs = value(node.right);
  const isExtra = (o: Operand) => 'variable' in o && o.variable === 'extra';
  if (extraNames === 'pep685' && (isExtra(node.left) || isExtra(node.right))) {
    lhs = normalizeProjectName(lhs);
    rhs = normalizeProjectName(rhs);
  }
  if (node.op === 'in') return rhs.includes(lhs);
  if (node.op === 'not in') return !rhs.includes(lhs);
  if (node.op !== '===' && pep440.validRange(`${node.op}${rhs}`)) {
    // packaging 21.3 (pip 23.2's) Specifier.contains(lhs): the version may have spaces around it, and a
    // pre-release is in only when the specifier names one itself with ==, >=, <= or ~= (markers pass no
    // `prereleases`; packaging >= 22 passes True)
    const item = lhs.trim();
    if (pep440.valid(item) === null) return false;
    if (isPrerelease(item) && !(['==', '>=', '<=', '~='].includes(node.op) && isPrerelease(rhs.replace(/\.\*$/, '')))) return false;
    return satisfiesSpecifier(item, `${node.op}${rhs}`, { legacy: false }) ?? pep440.satisfies(item, `${node.op}${rhs}`, { prereleases: true });
  }
  // `===X` (X without spaces inside) is a specifier too: the string of the parsed version, case-insensitively
  if (node.op === '===' && /^\S+$/.test(rhs.trim())) {
    const item = pep440.valid(lhs.trim()) === null ? lhs : versionText(lhs.trim());
    return item.toLowerCase() === rhs.trim().toLowerCase();
  }
  switch (node.op) {
    case '==':
    case '===':
      return lhs === rhs;
    case '!=':
      return lhs !== rhs;
    case '<':
      return lhs < rhs;
    case '<=':
      return lhs <= rhs;
    case '>':
      return lhs > rhs;
    case '>=':
      return lhs >= rhs;
    default:
      // "~=" with a right side that is not a version has no meaning (packaging raises UndefinedComparison)
      throw new MarkerSyntaxError(`${quoteInput(`${lhs} ${node.op} ${rhs}`, 200)}: ${node.op} needs a version on the right`);
  }
}
