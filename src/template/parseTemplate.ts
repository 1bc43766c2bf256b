import { lexTemplate, type Piece, type Token } from './lexTemplate.js';
import { FILTERS, TESTS } from './templateFilters.js';
import { TemplateError } from './TemplateError.js';
import type { Data } from './templateValue.js';

export type Expr =
  | { k: 'lit'; v: Data }
  | { k: 'name'; n: string }
  | { k: 'get'; obj: Expr; key: Expr; src: string }
  | { k: 'list'; items: Expr[] }
  | { k: 'neg' | 'not'; e: Expr }
  | { k: 'and' | 'or'; a: Expr; b: Expr }
  | { k: 'cond'; cond: Expr; yes: Expr; no: Expr }
  | { k: 'bin'; op: string; a: Expr; b: Expr }
  | { k: 'cmp'; first: Expr; rest: Array<[string, Expr]> }
  | { k: 'filter'; e: Expr; name: string; args: Expr[] }
  | { k: 'test'; e: Expr; name: string; neg: boolean };

interface Where {
  tag: string;
  line: number;
}

export type Node =
  | { t: 'text'; s: string }
  | ({ t: 'out'; e: Expr } & Where)
  | ({ t: 'if'; branches: Array<{ cond: Expr; body: Node[] } & Where>; otherwise: Node[] } & Where)
  | ({ t: 'for'; names: string[]; iter: Expr; body: Node[]; otherwise: Node[] } & Where);

type TagPiece = Extract<Piece, { kind: 'out' | 'block' }>;

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else', 'true', 'false', 'none', 'True', 'False', 'None']);
const MAX_DEPTH = 64;
/**
 * How deep an expression's tree may be. Chains (`x | f | g`, `a + b + c`, `x.a.b`, `a or b`) are parsed
 * in loops, not by recursion, so MAX_DEPTH does not see them; rendering and checking walk the tree
 * recursively, and 5,000 links overflowed the stack (`Maximum call stack size exceeded`, no location).
 */
const MAX_TREE_DEPTH = 256;
const TAGS = 'if/elif/else/endif, for/else/endfor, raw/endraw';

/** A template parsed into a tree; every filter and test it names is known, or this throws. */
export function parseTemplate(src: string): Node[] {
  return new BlockParser(lexTemplate(src)).document();
}

/** The text of an expression that names a value, for messages ("servers[0].name is undefined"). */
export function srcOf(e: Expr): string {
  if (e.k === 'name') return e.n;
  if (e.k === 'get') return e.src;
  if (e.k === 'lit') return JSON.stringify(e.v);
  return 'the value';
}

class BlockParser {
  #i = 0;
  #depth = 0;
  constructor(private readonly pieces: Piece[]) {}

  document(): Node[] {
    const { nodes, stop } = this.body([]);
    if (stop) throw new TemplateError(`unexpected {% ${stop.name} %}`, stop.piece.tag, stop.piece.line);
    return nodes;
  }

  private body(stops: string[]): { nodes: Node[]; stop?: { name: string; piece: TagPiece } } {
    const nodes: Node[] = [];
    while (this.#i < this.pieces.length) {
      const p = this.pieces[this.#i++]!;
      if (p.kind === 'text') nodes.push({ t: 'text', s: p.text });
      else if (p.kind === 'out') nodes.push({ t: 'out', e: expression(p.tokens, p), tag: p.tag, line: p.line });
      else {
        const head = p.tokens[0];
        const name = head?.type === 'name' ? String(head.value) : '';
        if (stops.includes(name)) return { nodes, stop: { name, piece: p } };
        if (name === 'if') nodes.push(this.ifBlock(p));
        else if (name === 'for') nodes.push(this.forBlock(p));
        else if (['elif', 'else', 'endif', 'endfor', 'endraw'].includes(name)) throw new TemplateError(`unexpected {% ${name} %}`, p.tag, p.line);
        else throw new TemplateError(`unsupported tag ${JSON.stringify(name || head?.text || '')}; ferry templates know ${TAGS}`, p.tag, p.line);
      }
    }
    return { nodes };
  }

  private nested<T>(p: Where, f: () => T): T {
    if (++this.#depth > MAX_DEPTH) throw new TemplateError(`blocks are nested more than ${MAX_DEPTH} deep`, p.tag, p.line);
    try {
      return f();
    } finally {
      this.#depth--;
    }
  }

  private closing(stop: { name: string; piece: TagPiece } | undefined, opener: Where, end: string) {
    if (!stop) throw new TemplateError(`not closed: {% ${end} %} is missing`, opener.tag, opener.line);
    if (stop.piece.tokens.length !== 1 && stop.name !== 'elif') throw new TemplateError(`{% ${stop.name} %} takes nothing more`, stop.piece.tag, stop.piece.line);
  }

  private ifBlock(p: TagPiece): Node {
    return this.nested(p, () => {
      const branches = [{ cond: expression(p.tokens.slice(1), p), body: [] as Node[], tag: p.tag, line: p.line }];
      for (;;) {
        const { nodes, stop } = this.body(['elif', 'else', 'endif']);
        this.closing(stop, p, 'endif');
        branches[branches.length - 1]!.body = nodes;
        if (stop!.name === 'elif') {
          branches.push({ cond: expression(stop!.piece.tokens.slice(1), stop!.piece), body: [], tag: stop!.piece.tag, line: stop!.piece.line });
          continue;
        }
        let otherwise: Node[] = [];
        if (stop!.name === 'else') {
          const rest = this.body(['endif']);
          this.closing(rest.stop, p, 'endif');
          otherwise = rest.nodes;
        }
        return { t: 'if', branches, otherwise, tag: p.tag, line: p.line };
      }
    });
  }

  private forBlock(p: TagPiece): Node {
    return this.nested(p, () => {
      const t = p.tokens;
      const names: string[] = [];
      let i = 1;
      for (;;) {
        const tok = t[i];
        if (tok?.type !== 'name' || KEYWORDS.has(String(tok.value)) || tok.value === 'loop') throw new TemplateError('expected {% for NAME in EXPRESSION %} or {% for KEY, VALUE in EXPRESSION %}', p.tag, p.line);
        names.push(String(tok.value));
        i++;
        if (t[i]?.type === 'op' && t[i]!.value === ',' && names.length < 2) i++;
        else break;
      }
      if (t[i]?.type !== 'name' || t[i]!.value !== 'in') throw new TemplateError('expected "in" after the loop variable', p.tag, p.line);
      const iter = expression(t.slice(i + 1), p);
      const { nodes, stop } = this.body(['else', 'endfor']);
      this.closing(stop, p, 'endfor');
      let otherwise: Node[] = [];
      if (stop!.name === 'else') {
        const rest = this.body(['endfor']);
        this.closing(rest.stop, p, 'endfor');
        otherwise = rest.nodes;
      }
      return { t: 'for', names, iter, body: nodes, otherwise, tag: p.tag, line: p.line };
    });
  }
}

function expression(tokens: Token[], where: Where): Expr {
  if (tokens.length === 0) throw new TemplateError('an expression is missing', where.tag, where.line);
  const e = new ExprParser(tokens, where).all();
  if (treeDepth(e) > MAX_TREE_DEPTH) {
    throw new TemplateError(`the expression is nested more than ${MAX_TREE_DEPTH} deep (every filter, operator, attribute or index of a chain is a level)`, where.tag, where.line);
  }
  return e;
}

/** The depth of an expression's tree, walked with a stack of its own (a deep tree must not overflow this). */
function treeDepth(root: Expr): number {
  let max = 0;
  const todo: Array<[Expr, number]> = [[root, 1]];
  for (let next = todo.pop(); next; next = todo.pop()) {
    const [e, depth] = next;
    if (depth > max) max = depth;
    const kids: Expr[] =
      e.k === 'get' ? [e.obj, e.key]
      : e.k === 'list' ? e.items
      : e.k === 'neg' || e.k === 'not' || e.k === 'test' ? [e.e]
      : e.k === 'filter' ? [e.e, ...e.args]
      : e.k === 'and' || e.k === 'or' || e.k === 'bin' ? [e.a, e.b]
      : e.k === 'cond' ? [e.cond, e.yes, e.no]
      : e.k === 'cmp' ? [e.first, ...e.rest.map(([, x]) => x)]
      : [];
    for (const kid of kids) todo.push([kid, depth + 1]);
  }
  return max;
}

/** Jinja's expression grammar, without calls, mappings, tuples or anything that reaches code. */
class ExprParser {
  #i = 0;
  #depth = 0;
  constructor(
    private readonly toks: Token[],
    private readonly where: Where,
  ) {}

  all(): Expr {
    const e = this.expr();
    if (this.#i < this.toks.length) this.fail(`unexpected ${JSON.stringify(this.toks[this.#i]!.text)}`);
    return e;
  }

  private fail(why: string): never {
    throw new TemplateError(why, this.where.tag, this.where.line);
  }

  private op(v: string): boolean {
    const t = this.toks[this.#i];
    if (t?.type === 'op' && t.value === v) {
      this.#i++;
      return true;
    }
    return false;
  }

  private word(v: string, at = 0): boolean {
    const t = this.toks[this.#i + at];
    return t?.type === 'name' && t.value === v;
  }

  private take(v: string): boolean {
    if (!this.word(v)) return false;
    this.#i++;
    return true;
  }

  private deeper<T>(f: () => T): T {
    if (++this.#depth > MAX_DEPTH) this.fail(`the expression is nested more than ${MAX_DEPTH} deep`);
    try {
      return f();
    } finally {
      this.#depth--;
    }
  }

  private expr(): Expr {
    return this.deeper(() => {
      const yes = this.or();
      if (!this.take('if')) return yes;
      const cond = this.or();
      if (!this.take('else')) this.fail('"x if condition" needs "else y"');
      return { k: 'cond', cond, yes, no: this.expr() };
    });
  }

  private or(): Expr {
    let a = this.and();
    while (this.take('or')) a = { k: 'or', a, b: this.and() };
    return a;
  }

  private and(): Expr {
    let a = this.not();
    while (this.take('and')) a = { k: 'and', a, b: this.not() };
    return a;
  }

  private not(): Expr {
    if (this.take('not')) return this.deeper(() => ({ k: 'not', e: this.not() }));
    return this.compare();
  }

  private compare(): Expr {
    const first = this.sum();
    const rest: Array<[string, Expr]> = [];
    for (;;) {
      const t = this.toks[this.#i];
      if (t?.type === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(String(t.value))) {
        this.#i++;
        rest.push([String(t.value), this.sum()]);
      } else if (this.take('in')) rest.push(['in', this.sum()]);
      else if (this.word('not') && this.word('in', 1)) {
        this.#i += 2;
        rest.push(['not in', this.sum()]);
      } else break;
    }
    return rest.length ? { k: 'cmp', first, rest } : first;
  }

  private sum(): Expr {
    let a = this.concat();
    for (;;) {
      const op = this.op('+') ? '+' : this.op('-') ? '-' : undefined;
      if (!op) return a;
      a = { k: 'bin', op, a, b: this.concat() };
    }
  }

  private concat(): Expr {
    let a = this.product();
    while (this.op('~')) a = { k: 'bin', op: '~', a, b: this.product() };
    return a;
  }

  private product(): Expr {
    let a = this.unary();
    for (;;) {
      const op = ['//', '*', '/', '%'].find((o) => this.op(o));
      if (!op) return a;
      a = { k: 'bin', op, a, b: this.unary() };
    }
  }

  private unary(): Expr {
    if (this.op('-')) return this.deeper(() => ({ k: 'neg', e: this.unary() }));
    if (this.op('+')) return this.deeper(() => this.unary());
    return this.filters(this.postfix(this.primary()));
  }

  private filters(e: Expr): Expr {
    for (;;) {
      if (this.op('|')) {
        const name = this.name('a filter name after "|"');
        const filter = FILTERS.get(name);
        if (!filter) this.fail(`unknown filter ${JSON.stringify(name)}; ferry knows ${[...FILTERS.keys()].join(', ')}`);
        const args = this.op('(') ? this.args() : [];
        if (args.length < filter!.min || args.length > filter!.max) this.fail(`filter ${name} takes ${filter!.min === filter!.max ? filter!.min : `${filter!.min} to ${filter!.max}`} argument${filter!.max === 1 ? '' : 's'}, found ${args.length}`);
        e = { k: 'filter', e, name, args };
      } else if (this.take('is')) {
        const neg = this.take('not');
        const name = this.name('a test name after "is"');
        if (!TESTS.has(name)) this.fail(`unknown test ${JSON.stringify(name)}; ferry knows ${[...TESTS.keys()].join(', ')}`);
        e = { k: 'test', e, name, neg };
      } else return e;
    }
  }

  private name(what: string): string {
    const t = this.toks[this.#i];
    if (t?.type !== 'name') this.fail(`expected ${what}`);
    this.#i++;
    return String(t!.value);
  }

  /** Positional arguments of a filter, after "(". */
  private args(): Expr[] {
    const out: Expr[] = [];
    if (this.op(')')) return out;
    for (;;) {
      if (this.toks[this.#i]?.type === 'name' && this.toks[this.#i + 1]?.value === '=') this.fail('keyword arguments are not supported; pass arguments by position');
      out.push(this.expr());
      if (this.op(')')) return out;
      if (!this.op(',')) this.fail('expected "," or ")" in the filter arguments');
    }
  }

  private postfix(e: Expr): Expr {
    for (;;) {
      if (this.op('.')) {
        const t = this.toks[this.#i++];
        if (t?.type === 'name') e = { k: 'get', obj: e, key: { k: 'lit', v: String(t.value) }, src: `${srcOf(e)}.${t.value}` };
        else if (t?.type === 'num' && Number.isInteger(t.value)) e = { k: 'get', obj: e, key: { k: 'lit', v: t.value }, src: `${srcOf(e)}.${t.value}` };
        else this.fail('expected an attribute name after "."');
      } else if (this.op('[')) {
        const start = this.#i;
        const key = this.expr();
        const text = this.toks.slice(start, this.#i).map((t) => t.text).join(' ');
        if (!this.op(']')) this.fail('expected "]"');
        e = { k: 'get', obj: e, key, src: `${srcOf(e)}[${text}]` };
      } else if (this.toks[this.#i]?.type === 'op' && this.toks[this.#i]!.value === '(') {
        this.fail('calling functions or methods is not supported; use a filter: VALUE | NAME(ARGS)');
      } else return e;
    }
  }

  private primary(): Expr {
    const t = this.toks[this.#i];
    if (!t) this.fail('the expression ends too early');
    this.#i++;
    if (t!.type === 'num') return { k: 'lit', v: t!.value };
    if (t!.type === 'str') {
      let s = String(t!.value);
      while (this.toks[this.#i]?.type === 'str') s += String(this.toks[this.#i++]!.value);
      return { k: 'lit', v: s };
    }
    if (t!.type === 'name') {
      const n = String(t!.value);
      if (n === 'true' || n === 'True') return { k: 'lit', v: true };
      if (n === 'false' || n === 'False') return { k: 'lit', v: false };
      if (n === 'none' || n === 'None') return { k: 'lit', v: null };
      if (KEYWORDS.has(n)) this.fail(`unexpected ${JSON.stringify(n)}`);
      return { k: 'name', n };
    }
    if (t!.value === '(') {
      const e = this.expr();
      if (this.op(',')) this.fail('tuples are not supported; use a list [a, b]');
      if (!this.op(')')) this.fail('expected ")"');
      return e;
    }
    if (t!.value === '[') {
      return this.deeper(() => {
        const items: Expr[] = [];
        while (!this.op(']')) {
          items.push(this.expr());
          if (!this.op(',') && !(this.toks[this.#i]?.value === ']' && this.toks[this.#i]?.type === 'op')) this.fail('expected "," or "]" in the list');
        }
        return { k: 'list', items };
      });
    }
    if (t!.value === '{') this.fail('mappings ({...}) are not supported in expressions; define them in the inventory');
    this.fail(`unexpected ${JSON.stringify(t!.text)}`);
  }
}
