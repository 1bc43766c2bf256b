/** A relation like `libc6:any (>= 2.36)`; a dependency field is an AND of OR-groups of these. */
export interface Relation {
  name: string;
  /** `any`, `native` or an architecture name, from `name:qualifier` */
  archQualifier?: string;
  op?: RelationOp;
  version?: string;
}
export type RelationOp = '<<' | '<=' | '=' | '>=' | '>>';

/**
 * Parse Depends / Pre-Depends / Recommends / Provides syntax (`a (>= 1) | b:any, c`) as apt's
 * debListParser reads a binary package's fields (ParseDepends, ParseDepElement): a name runs to a space or one
 * of `()[]<>,|` and keeps its case; `name:QUALIFIER` splits at the last colon (the qualifier as written: `:Any`
 * is no `:any`); `(OP VERSION)` takes `<<`, `<=`, `>=`, `>>`, `=` and the obsolete `<`, `>` (as `<=`, `>=`),
 * no operator or another character meaning `=` (`(1.0)` is `= 1.0`, `(=> 1)` is `= > 1`), the version
 * being what follows up to `)` (`a (1)` at the field's end is too short for apt). An element apt cannot parse (dependencyError) is left out here: an index
 * holding one is refused when read (readPackagesIndex), as apt refuses it.
 */
export function parseDependencies(value: string | undefined): Relation[][] {
  if (!value) return [];
  return readField(value).groups;
}

/**
 * Why apt cannot parse this relation field ("Problem parsing dependency", which makes apt-get update refuse
 * the whole index), or undefined: an element with no name, two names or text after one (`a b`,
 * `a (>= 1) b`), an architecture list or build profile (`a [amd64]`, `a <!nocheck>`, source packages
 * only), an empty alternative (`a,, b`, `|a`), an unclosed `(` or an empty version.
 */
export function dependencyError(value: string | undefined): string | undefined {
  if (!value || WELL_FORMED.test(value)) return undefined;
  return readField(value).error;
}

/** the usual syntax, which apt always parses: a fast check before reading element by element */
const ELEMENT = String.raw`[a-z0-9][a-z0-9+.-]*(?::[a-z0-9-]+)?(?:\s*\(\s*(?:<<|<=|>=|>>|=)\s*[^\s()]+\s*\))?`;
const WELL_FORMED = new RegExp(String.raw`^\s*${ELEMENT}(?:\s*[,|]\s*${ELEMENT})*\s*,?\s*$`);

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const NAME_STOP = new Set(['(', ')', '[', ']', '<', '>', ',', '|']);

/** `dangling`: the field ends with `|` (apt keeps its or-flag on the last relation: see joinDanglingOr) */
function readField(value: string): { groups: Relation[][]; error?: string; dangling?: boolean } {
  const groups: Relation[][] = [];
  let i = 0;
  const skip = () => {
    while (i < value.length && isSpace(value[i])) i++;
  };
  const fail = (why: string) => ({ groups, error: `${why} at character ${i + 1}` });
  skip();
  let alts: Relation[] = [];
  while (i < value.length) {
    // the name, and its qualifier after the last colon
    const start = i;
    while (i < value.length && !isSpace(value[i]) && !NAME_STOP.has(value[i]!)) i++;
    if (i === start) return fail(value[i] === undefined ? 'nothing after the last "|"' : `no package name before "${value[i]}"`);
    if (value[i] === ')') return fail('a ")" without "("');
    const spec = value.slice(start, i);
    const colon = spec.lastIndexOf(':');
    const rel: Relation = colon < 0 ? { name: spec } : { name: spec.slice(0, colon), archQualifier: spec.slice(colon + 1) };
    skip();
    if (value[i] === '(') {
      i++;
      skip();
      // apt's own check: fewer than four characters left in the field here is an error (`a (1)` at its end)
      if (i + 3 >= value.trimEnd().length) return fail('a "(" too near the end of the field');
      let op: RelationOp = '=';
      const c = value[i];
      const next = value[i + 1];
      if (c === '<' || c === '>') {
        i++;
        if (next === '=') i++;
        else if (next === c) {
          i++;
          op = c === '<' ? '<<' : '>>';
        }
        if (op === '=') op = c === '<' ? '<=' : '>=';
      } else if (c === '=') i++;
      skip();
      const from = i;
      while (i < value.length && value[i] !== ')') i++;
      if (i === value.length) return fail('a "(" without ")"');
      const version = value.slice(from, i).trim();
      if (!version) return fail('an empty version');
      i++;
      rel.op = op;
      rel.version = version;
      skip();
    }
    alts.push(rel);
    if (value[i] === '|') {
      i++;
      skip();
      if (i === value.length) {
        groups.push(alts);
        return { groups, dangling: true };
      }
      continue;
    }
    groups.push(alts);
    alts = [];
    if (i === value.length) break;
    if (value[i] !== ',') return fail(`"${value[i]}" after ${formatRelation(rel)}`);
    i++;
    skip();
  }
  if (alts.length > 0) groups.push(alts);
  return { groups };
}

/**
 * A Provides field as apt reads it: each name, versioned only with `=` (apt ignores a Provides with another
 * relation, `foo (>= 2)`, "Ignoring non-equal Provides"; it provides nothing, not even the bare name). A name
 * followed by `|` carries apt's or-flag in its relation, which is then not `=` either: `v | w` provides w only,
 * `v |` nothing.
 */
export function parseProvides(value: string | undefined): Relation[] {
  if (!value) return [];
  const { groups, dangling } = readField(value);
  return groups
    .flatMap((g, i) => (dangling && i === groups.length - 1 ? [] : g.slice(-1)))
    .filter((r) => r.op === undefined || r.op === '=');
}

/** apt's order of a version's dependency list (debListParser::NewVersion); Provides is not in it */
const DEPENDENCY_ORDER = ['Pre-Depends', 'Depends', 'Conflicts', 'Breaks', 'Recommends', 'Suggests', 'Replaces', 'Enhances'] as const;
const NEGATIVE = new Set<string>(['Conflicts', 'Breaks']);

/**
 * A trailing `|` as apt reads it. apt keeps a version's relations as one list in DEPENDENCY_ORDER and an
 * or-group runs while a relation carries the or-flag, so a field ending with `|` (`Depends: x |`) takes the
 * first group of the next field that has one into its last group, as an alternative of its own kind
 * (`Depends: x |` then `Recommends: a, b` is `Depends: x | a` and `Recommends: b`). Returns the fields so
 * joined (only those that changed; "" for one left empty), nothing when no field dangles, or why ferry refuses:
 * a dangling last field (apt-get then crashes on every install from the index, segfault), or a join where a
 * Conflicts or Breaks takes part (a group that mixes positive and negative relations, which apt evaluates its
 * own way and dpkg rejects).
 */
export function joinDanglingOr(get: (field: string) => string | undefined): { fields?: Map<string, string>; error?: string } {
  if (!DEPENDENCY_ORDER.some((field) => get(field)?.trimEnd().endsWith('|'))) return {};
  const present = DEPENDENCY_ORDER.map((field) => ({ field, ...readField(get(field) ?? '') })).filter((f) => f.groups.length > 0);
  if (!present.some((f) => f.dangling)) return {};
  const changed = new Set<string>();
  for (let i = 0; i < present.length; i++) {
    const cur = present[i]!;
    for (let j = i + 1; cur.dangling; ) {
      while (j < present.length && present[j]!.groups.length === 0) j++;
      const next = present[j];
      if (!next) return { error: `its ${cur.field} ends with "|" and no relation follows it in apt's order of the fields, on which apt-get crashes (segfault) whatever it installs` };
      if (NEGATIVE.has(cur.field) || NEGATIVE.has(next.field)) {
        return { error: `its ${cur.field} ends with "|", which apt joins to the first relation of its ${next.field} (a group of ${cur.field} and ${next.field} that apt reads its own way and dpkg rejects)` };
      }
      cur.groups[cur.groups.length - 1]!.push(...next.groups.shift()!);
      changed.add(cur.field).add(next.field);
      // a joined group that itself ended with "|" joins the next field's first group in turn
      cur.dangling = next.groups.length === 0 && next.dangling;
      if (cur.dangling) next.dangling = false;
    }
  }
  const fields = new Map<string, string>();
  for (const f of present) if (changed.has(f.field)) fields.set(f.field, f.groups.map((g) => g.map(formatRelation).join(' | ')).join(', '));
  return { fields };
}

export function formatRelation(r: Relation): string {
  return `${r.name}${r.archQualifier !== undefined ? ':' + r.archQualifier : ''}${r.op ? ` (${r.op} ${r.version})` : ''}`;
}
