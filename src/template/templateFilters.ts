import { shellQuote } from '../util/shellQuote.js';
import { TemplateError } from './TemplateError.js';
import { type Data, defined, display, isPlainObject, type RenderBudget, toJson, truthy, typeName, Undefined, type Value } from './templateValue.js';

interface Filter {
  min: number;
  max: number;
  /** it makes new text or a new list (not a part of its input): the render's budget pays for it */
  builds?: true;
  /**
   * the value before the "|", its arguments, the text naming the value for messages, and the render's
   * budget: the evaluator pays for what a filter that builds returns; one whose result can be far larger
   * than its input checks that the budget affords it before building it
   */
  fn(v: Value, args: Value[], expr: string, budget: RenderBudget): Value;
}

const text = (v: Value, expr: string) => display(v, expr);

function list(v: Value, expr: string, filter: string): Data[] {
  const d = defined(v);
  if (!Array.isArray(d)) throw new TemplateError(`${filter}: ${expr} is ${typeName(d)}, not a list`);
  return d;
}

function str(v: Value, what: string): string {
  const d = defined(v);
  if (typeof d !== 'string') throw new TemplateError(`${what} must be a string, found ${typeName(d)}`);
  return d;
}

function number(v: Value, expr: string, filter: string, parse: (s: string) => number | undefined, fallback: Value[]): Value {
  const d = defined(v);
  let n: number | undefined;
  if (typeof d === 'number') n = d;
  else if (typeof d === 'boolean') n = d ? 1 : 0;
  else if (typeof d === 'string') n = parse(d.trim());
  if (n !== undefined && Number.isFinite(n)) return filter === 'int' ? Math.trunc(n) : n;
  if (fallback.length) return defined(fallback[0]!);
  throw new TemplateError(`${filter}: ${expr}${expr === JSON.stringify(d) ? '' : ` (${JSON.stringify(d)})`} is not a number; give a fallback: ${filter}(0)`);
}

/** How many times replaceAll finds `f` in `s` (an empty `f` matches before every character and at the end). */
function occurrences(s: string, f: string): number {
  if (f === '') return s.length + 1;
  let n = 0;
  for (let i = s.indexOf(f); i >= 0; i = s.indexOf(f, i + f.length)) n++;
  return n;
}

const parseNumber = (s: string) => (/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(s) ? Number(s) : undefined);

function sortKey(xs: Data[], filter: string): Data[] {
  if (xs.every((x) => typeof x === 'number')) return [...xs].sort((a, b) => (a as number) - (b as number));
  if (xs.every((x) => typeof x === 'string')) return [...xs].sort((a, b) => ((a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0));
  throw new TemplateError(`${filter}: can sort only a list of numbers or a list of strings`);
}

/**
 * The filters a template may use. Each takes plain data and returns plain data; none calls anything
 * it was given. Looked up in a Map, so no name ("constructor", "__proto__") reaches anything else.
 */
export const FILTERS = new Map<string, Filter>([
  ['default', { min: 0, max: 2, fn: (v, [fallback = '', boolean = false], _e, budget) => (v instanceof Undefined || (truthy(boolean, budget) && !truthy(v, budget)) ? fallback : v) }],
  ['quote', {
    min: 0,
    max: 0,
    builds: true,
    fn: (v, _a, expr) => {
      const s = text(v, expr);
      if (s.includes('\0')) throw new TemplateError(`quote: ${expr} holds a NUL character, which no shell argument can carry`);
      return shellQuote(s);
    },
  }],
  ['join', {
    min: 0,
    max: 1,
    builds: true,
    fn: (v, [sep = ''], expr, budget) => {
      const items = list(v, expr, 'join').map((x, i) => display(x, `${expr}[${i}]`));
      const s = str(sep, 'join: the separator');
      budget.afford(items.reduce((n, x) => n + x.length, 0) + s.length * Math.max(0, items.length - 1));
      return items.join(s);
    },
  }],
  ['lower', { min: 0, max: 0, builds: true, fn: (v, _a, expr) => text(v, expr).toLowerCase() }],
  ['upper', { min: 0, max: 0, builds: true, fn: (v, _a, expr) => text(v, expr).toUpperCase() }],
  ['trim', { min: 0, max: 0, fn: (v, _a, expr) => text(v, expr).trim() }],
  ['string', { min: 0, max: 0, builds: true, fn: (v, _a, expr) => text(v, expr) }],
  ['replace', {
    min: 2,
    max: 2,
    builds: true,
    fn: (v, [from, to], expr, budget) => {
      const s = text(v, expr);
      const f = str(from!, 'replace: the text to replace');
      const t = str(to!, 'replace: the replacement');
      budget.afford(s.length + occurrences(s, f) * (t.length - f.length));
      return s.replaceAll(f, () => t);
    },
  }],
  ['int', { min: 0, max: 1, fn: (v, fallback, expr) => number(v, expr, 'int', parseNumber, fallback) }],
  ['float', { min: 0, max: 1, fn: (v, fallback, expr) => number(v, expr, 'float', parseNumber, fallback) }],
  ['length', { min: 0, max: 0, fn: (v, _a, expr, budget) => { const d = defined(v); if (typeof d === 'string' || Array.isArray(d)) return d.length; if (isPlainObject(d)) return budget.keys(d).length; throw new TemplateError(`length: ${expr} is ${typeName(d)}`); } }],
  ['first', { min: 0, max: 0, fn: (v, _a, expr) => { const xs = list(v, expr, 'first'); return xs.length ? xs[0]! : new Undefined(`${expr} | first`); } }],
  ['last', { min: 0, max: 0, fn: (v, _a, expr) => { const xs = list(v, expr, 'last'); return xs.length ? xs[xs.length - 1]! : new Undefined(`${expr} | last`); } }],
  ['sort', { min: 0, max: 0, builds: true, fn: (v, _a, expr) => sortKey(list(v, expr, 'sort'), 'sort') }],
  ['dictsort', {
    min: 0,
    max: 0,
    builds: true,
    fn: (v, _a, expr, budget) => {
      const d = defined(v);
      if (!isPlainObject(d)) throw new TemplateError(`dictsort: ${expr} is ${typeName(d)}, not a mapping`);
      return [...budget.keys(d)].sort().map((k) => [k, d[k]!]);
    },
  }],
  ['to_json', { min: 0, max: 0, builds: true, fn: (v, _a, expr) => toJson(v, expr) }],
  // marks a value as secret: rendered as is, but `ferry plan --check` shows no diff of a file it is in (marksSecret)
  ['secret', { min: 0, max: 0, fn: (v) => v }],
]);
FILTERS.set('d', FILTERS.get('default')!);
FILTERS.set('count', FILTERS.get('length')!);

/** `x is defined`, `x is not none`... */
export const TESTS = new Map<string, (v: Value) => boolean>([
  ['defined', (v) => !(v instanceof Undefined)],
  ['undefined', (v) => v instanceof Undefined],
  ['none', (v) => defined(v) === null],
  ['string', (v) => typeof defined(v) === 'string'],
  ['number', (v) => typeof defined(v) === 'number'],
  ['mapping', (v) => isPlainObject(defined(v))],
  ['sequence', (v) => Array.isArray(defined(v))],
]);
