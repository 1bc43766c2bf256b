import { type Expr, type Node, srcOf } from './parseTemplate.js';
import { FILTERS, TESTS } from './templateFilters.js';
import { TemplateError } from './TemplateError.js';
import { checkData, type Data, defined, display, equal, isPlainObject, lookup, RenderBudget, truthy, typeName, Undefined, type Value } from './templateValue.js';

/** Limits that keep a hostile template from exhausting the runner. */
export const MAX_OUTPUT = 32 * 1024 * 1024;
const MAX_ITERATIONS = 1_000_000;

/**
 * Render a parsed template over plain data. Names resolve to loop variables, then to the variables'
 * own properties; nothing else (no globals, no prototypes) is in scope. `budget` bounds the text the
 * render builds; renders that share one share its bound.
 */
export function evaluateTemplate(nodes: Node[], vars: Record<string, unknown>, budget = new RenderBudget()): string {
  return new Evaluation(vars, budget).run(nodes);
}

class Evaluation {
  #out: string[] = [];
  #size = 0;
  #iterations = 0;
  #scopes: Array<Map<string, Value>> = [];
  constructor(
    private readonly vars: Record<string, unknown>,
    private readonly budget: RenderBudget,
  ) {}

  run(nodes: Node[]): string {
    this.nodes(nodes);
    return this.#out.join('');
  }

  private emit(s: string) {
    this.#size += s.length;
    if (this.#size > MAX_OUTPUT) throw new TemplateError(`the output is larger than ${MAX_OUTPUT / 1024 / 1024} MiB`);
    this.budget.spend(s);
    this.#out.push(s);
  }

  private nodes(nodes: Node[]) {
    for (const n of nodes) {
      if (n.t === 'text') {
        this.emit(n.s);
        continue;
      }
      try {
        if (n.t === 'out') this.emit(display(this.expr(n.e), srcOf(n.e)));
        else if (n.t === 'if') this.ifNode(n);
        else this.forNode(n);
      } catch (err) {
        // the innermost tag names the place
        if (err instanceof TemplateError && err.tag === undefined) {
          err.tag = n.tag;
          err.line = n.line;
        }
        throw err;
      }
    }
  }

  private ifNode(n: Extract<Node, { t: 'if' }>) {
    for (const b of n.branches) {
      let hit: boolean;
      try {
        hit = truthy(this.expr(b.cond), this.budget);
      } catch (err) {
        if (err instanceof TemplateError && err.tag === undefined) {
          err.tag = b.tag;
          err.line = b.line;
        }
        throw err;
      }
      if (hit) return this.nodes(b.body);
    }
    this.nodes(n.otherwise);
  }

  private forNode(n: Extract<Node, { t: 'for' }>) {
    const iter = defined(this.expr(n.iter));
    let items: readonly Data[];
    if (Array.isArray(iter)) items = iter;
    else if (isPlainObject(iter)) items = this.budget.keys(iter);
    else throw new TemplateError(`cannot loop over ${srcOf(n.iter)}: it is ${typeName(iter)}, not a list or a mapping`);
    if (items.length === 0) return this.nodes(n.otherwise);
    items.forEach((raw, i) => {
      if (++this.#iterations > MAX_ITERATIONS) throw new TemplateError(`more than ${MAX_ITERATIONS} loop iterations`);
      const item = checkData(raw, `${srcOf(n.iter)}[${i}]`);
      const scope = new Map<string, Value>();
      if (n.names.length === 1) scope.set(n.names[0]!, item);
      else {
        if (!Array.isArray(item) || item.length !== n.names.length) throw new TemplateError(`cannot unpack ${srcOf(n.iter)}[${i}] into ${n.names.join(', ')}: it is not a list of ${n.names.length}; loop over a mapping with "| dictsort"`);
        n.names.forEach((name, j) => scope.set(name, item[j]!));
      }
      const loop: { [k: string]: Data } = Object.create(null);
      Object.assign(loop, { index: i + 1, index0: i, revindex: items.length - i, revindex0: items.length - i - 1, first: i === 0, last: i === items.length - 1, length: items.length });
      scope.set('loop', loop);
      this.#scopes.push(scope);
      try {
        this.nodes(n.body);
      } finally {
        this.#scopes.pop();
      }
    });
  }

  private name(n: string): Value {
    for (let i = this.#scopes.length - 1; i >= 0; i--) if (this.#scopes[i]!.has(n)) return this.#scopes[i]!.get(n)!;
    return Object.hasOwn(this.vars, n) ? checkData(this.vars[n], n) : new Undefined(n);
  }

  private expr(e: Expr): Value {
    switch (e.k) {
      case 'lit':
        return e.v;
      case 'name':
        return this.name(e.n);
      case 'get':
        return lookup(this.expr(e.obj), defined(this.expr(e.key)), e.src);
      case 'list':
        return e.items.map((x) => defined(this.expr(x)));
      case 'neg': {
        const v = defined(this.expr(e.e));
        if (typeof v !== 'number') throw new TemplateError(`cannot negate ${typeName(v)}`);
        return -v;
      }
      case 'not':
        return !truthy(this.expr(e.e), this.budget);
      case 'and': {
        const a = this.expr(e.a);
        return truthy(a, this.budget) ? this.expr(e.b) : a;
      }
      case 'or': {
        const a = this.expr(e.a);
        return truthy(a, this.budget) ? a : this.expr(e.b);
      }
      case 'cond':
        return truthy(this.expr(e.cond), this.budget) ? this.expr(e.yes) : this.expr(e.no);
      case 'bin':
        return this.budget.spend(arithmetic(e.op, this.expr(e.a), this.expr(e.b), e));
      case 'cmp': {
        let left = this.expr(e.first);
        for (const [op, x] of e.rest) {
          const right = this.expr(x);
          if (!compare(op, left, right, this.budget)) return false;
          left = right;
        }
        return true;
      }
      case 'filter': {
        const filter = FILTERS.get(e.name)!;
        const r = filter.fn(this.expr(e.e), e.args.map((a) => this.expr(a)), srcOf(e.e), this.budget);
        return filter.builds ? this.budget.spend(r) : r;
      }
      case 'test':
        return TESTS.get(e.name)!(this.expr(e.e)) !== e.neg;
    }
  }
}

function arithmetic(op: string, av: Value, bv: Value, e: Expr & { k: 'bin' }): Value {
  if (op === '~') return display(av, srcOf(e.a)) + display(bv, srcOf(e.b));
  const a = defined(av);
  const b = defined(bv);
  if (op === '+') {
    if (typeof a === 'string' && typeof b === 'string') return a + b;
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  }
  if (typeof a !== 'number' || typeof b !== 'number') throw new TemplateError(`cannot compute ${typeName(a)} ${op} ${typeName(b)}${op === '+' ? '; join text with ~' : ''}`);
  if ((op === '/' || op === '//' || op === '%') && b === 0) throw new TemplateError('division by zero');
  const r = op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : op === '/' ? a / b : op === '//' ? Math.floor(a / b) : a - b * Math.floor(a / b);
  if (!Number.isFinite(r)) throw new TemplateError(`${op}: the result is not a finite number`);
  return r;
}

function compare(op: string, av: Value, bv: Value, budget: RenderBudget): boolean {
  if (op === '==') return equal(av, bv, budget);
  if (op === '!=') return !equal(av, bv, budget);
  const a = defined(av);
  const b = defined(bv);
  if (op === 'in' || op === 'not in') {
    let found: boolean;
    if (typeof b === 'string') {
      if (typeof a !== 'string') throw new TemplateError(`"in" a string needs a string on the left, found ${typeName(a)}`);
      budget.compare(b.length);
      found = b.includes(a);
    } else if (Array.isArray(b)) found = b.some((x) => equal(x, a, budget));
    else if (isPlainObject(b)) found = typeof a === 'string' && Object.hasOwn(b, a);
    else throw new TemplateError(`"in" needs a string, a list or a mapping on the right, found ${typeName(b)}`);
    return op === 'in' ? found : !found;
  }
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) throw new TemplateError(`cannot compare ${typeName(a)} ${op} ${typeName(b)}`);
  return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
}
