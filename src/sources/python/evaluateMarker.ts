import pep440 from '@renovatebot/pep440';
import { normalizeProjectName } from './normalizeProjectName.js';
import { satisfiesSpecifier } from './satisfiesSpecifier.js';

/** PEP 508 environment: the values markers are evaluated against (all strings). */
export type MarkerEnvironment = Record<string, string>;

type Node =
  | { type: 'or' | 'and'; left: Node; right: Node }
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
 * environment, the way packaging.markers does: a comparison whose operator and right side form a valid
 * version specifier compares versions (pre-releases included), anything else compares strings; `extra`
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

export function parseMarker(marker: string): Node {
  const tokens = tokenize(marker);
  let i = 0;
  const peek = () => tokens[i];
  const expect = (what: string) => {
    const t = tokens[i++];
    if (t?.value !== what) throw new MarkerSyntaxError(`expected "${what}" in marker "${marker}", found ${t ? `"${t.value}"` : 'the end'}`);
  };
  const operand = (): Operand => {
    const t = tokens[i++];
    if (!t) throw new MarkerSyntaxError(`marker "${marker}" ends too early`);
    if (t.kind === 'string') return { literal: t.value };
    if (t.kind === 'word' && VARIABLES.has(t.value)) return { variable: ALIASES[t.value] ?? t.value };
    throw new MarkerSyntaxError(`unknown marker variable "${t.value}" in "${marker}"`);
  };
  const atom = (): Node => {
    if (peek()?.value === '(') {
      i++;
      const inner = or();
      expect(')');
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
    } else throw new MarkerSyntaxError(`expected a comparison in marker "${marker}"`);
    return { type: 'cmp', left, op, right: operand() };
  };
  const and = (): Node => {
    let left = atom();
    while (peek()?.value === 'and') {
      i++;
      left = { type: 'and', left, right: atom() };
    }
    return left;
  };
  const or = (): Node => {
    let left = and();
    while (peek()?.value === 'or') {
      i++;
      left = { type: 'or', left, right: and() };
    }
    return left;
  };
  const tree = or();
  if (i !== tokens.length) throw new MarkerSyntaxError(`unexpected "${tokens[i]!.value}" in marker "${marker}"`);
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
    if (!m) throw new MarkerSyntaxError(`cannot read marker "${s}" at "${s.slice(pos).trim()}"`);
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

function evaluate(node: Node, env: MarkerEnvironment, onUnknown: ((v: string) => void) | undefined, extraNames: ExtraNames): boolean {
  if (node.type !== 'cmp') {
    const left = evaluate(node.left, env, onUnknown, extraNames);
    return node.type === 'or' ? left || evaluate(node.right, env, onUnknown, extraNames) : left && evaluate(node.right, env, onUnknown, extraNames);
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
    return pep440.valid(lhs) !== null && (satisfiesSpecifier(lhs, `${node.op}${rhs}`, { legacy: false }) ?? pep440.satisfies(lhs, `${node.op}${rhs}`, { prereleases: true }));
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
      throw new MarkerSyntaxError(`"${lhs} ${node.op} ${rhs}": ${node.op} needs a version on the right`);
  }
}
