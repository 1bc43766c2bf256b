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
 * Parse Depends / Pre-Depends / Recommends / Provides syntax: `a (>= 1) | b:any, c [amd64] <!nocheck>`.
 * Architecture restrictions and build profiles only occur in source packages; they are dropped here.
 * The obsolete `<` and `>` mean `<=` and `>=` (policy §7.1).
 */
export function parseDependencies(value: string | undefined): Relation[][] {
  if (!value) return [];
  const groups: Relation[][] = [];
  for (const group of value.split(',')) {
    const alts: Relation[] = [];
    for (const alt of group.split('|')) {
      const rel = parseRelation(alt);
      if (rel) alts.push(rel);
    }
    if (alts.length > 0) groups.push(alts);
  }
  return groups;
}

const RELATION_RE = /^\s*([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^)\s]+)\s*\))?\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>\s*)*$/i;

function parseRelation(text: string): Relation | undefined {
  const t = text.replace(/\s+/g, ' ').trim();
  if (!t) return undefined;
  const m = RELATION_RE.exec(t);
  if (!m) return { name: t.split(/[\s(:]/)[0]! };
  // apt does not fold a name's case: `Depends: Foo` is not met by foo
  const rel: Relation = { name: m[1]! };
  if (m[2]) rel.archQualifier = m[2].toLowerCase();
  if (m[3]) {
    rel.op = m[3] === '<' ? '<=' : m[3] === '>' ? '>=' : (m[3] as RelationOp);
    rel.version = m[4]!;
  }
  return rel;
}

/**
 * A Provides field as apt reads it: each name, versioned only with `=` (apt ignores a Provides with another
 * relation, `foo (>= 2)`, "Ignoring non-equal Provides"; it provides nothing, not even the bare name).
 */
export function parseProvides(value: string | undefined): Relation[] {
  return parseDependencies(value)
    .map((g) => g[0]!)
    .filter((r) => r.op === undefined || r.op === '=');
}

export function formatRelation(r: Relation): string {
  return `${r.name}${r.archQualifier ? ':' + r.archQualifier : ''}${r.op ? ` (${r.op} ${r.version})` : ''}`;
}
