import { TemplateError } from './TemplateError.js';

/**
 * The values a template works with are plain data only (what YAML and JSON produce): strings,
 * finite numbers, booleans, null, arrays and plain objects. Properties are read only when they are
 * the object's own: no prototype, constructor or method is ever reachable, and nothing is ever called.
 */
export type Data = string | number | boolean | null | Data[] | { [key: string]: Data };

/** An undefined variable or attribute, remembered by the expression that named it. */
export class Undefined {
  constructor(readonly expr: string) {}
}

export type Value = Data | Undefined;

/** How much text (and how many list items) one render may build, its output included. */
const MAX_BUILT = 64 * 1024 * 1024;
/** How many items (and characters of text searched) one render may compare: a second or two of work. */
const MAX_COMPARED = 100_000_000;

/**
 * What a render builds on the way to its output: the text each filter and operator makes (`replace`,
 * `join`, `~`...) and the items of the lists it makes. The output alone is bounded (32 MiB), but
 * `s | replace("x", s)` multiplies the text at each step, so a short template or inventory value built
 * gigabytes it then printed only as a `| length` (or stopped at V8's string limit, an internal error).
 * It also bounds what the render compares and lists each mapping's keys once, so that no loop step
 * costs more than a bounded amount of work. One budget is shared by the strings of one step's options
 * and by every value of one host's variables.
 */
export class RenderBudget {
  #left = MAX_BUILT;
  #compared = 0;
  #keys = new WeakMap<object, readonly string[]>();

  /**
   * A mapping's own keys, listed once per render: V8 lists those of a large mapping in O(n) (65 ms for
   * 200,000 keys), and a loop asks at every iteration (`{% if m %}`, `m | length`). Data is never
   * changed while it is rendered.
   */
  keys(d: { [key: string]: Data }): readonly string[] {
    let keys = this.#keys.get(d);
    if (!keys) this.#keys.set(d, (keys = Object.keys(d)));
    return keys;
  }

  /**
   * Count `n` items compared (`==`, `in`) or characters searched. Loops are bounded (1,000,000
   * iterations), but `{% if x in xs %}` inside `{% for x in xs %}` over a list of the inventory is
   * quadratic: a 2 MB list of a million items took hours.
   */
  compare(n: number): void {
    this.#compared += n;
    if (this.#compared > MAX_COMPARED) throw new TemplateError(`the template compares more than ${MAX_COMPARED} items (==, in), as a search inside a loop over a long list does`);
  }

  /** Refuse, before building it, a value of `size` characters or items the budget cannot pay for. */
  afford(size: number): void {
    if (size > this.#left) throw new TemplateError(`the template builds more than ${MAX_BUILT / 1024 / 1024} MiB of text (filters and operators included), more than any configuration needs`);
  }

  /** Pay for a value built: a string's length, a list's item count. */
  spend(v: Value): Value {
    const size = typeof v === 'string' || Array.isArray(v) ? v.length : 0;
    this.afford(size);
    this.#left -= size;
    return v;
  }
}

export function isPlainObject(v: unknown): v is { [key: string]: Data } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** An attribute or item of plain data: an own property of a plain object, an element of an array. */
export function lookup(container: Value, key: Value, expr: string): Value {
  if (container instanceof Undefined) return new Undefined(expr);
  if (Array.isArray(container)) {
    if (typeof key === 'number' && Number.isInteger(key)) {
      const i = key < 0 ? container.length + key : key;
      return i >= 0 && i < container.length ? checkData(container[i], expr) : new Undefined(expr);
    }
    return new Undefined(expr);
  }
  if (isPlainObject(container) && (typeof key === 'string' || typeof key === 'number')) {
    const k = String(key);
    return Object.hasOwn(container, k) ? checkData(container[k], expr) : new Undefined(expr);
  }
  if (isPlainObject(container)) return new Undefined(expr);
  throw new TemplateError(`${expr}: ${typeName(container)} has no attributes or items`);
}

/** A value handed in from outside (inventory, ferry's own variables) must be plain data. */
export function checkData(v: unknown, expr: string): Value {
  if (v === undefined) return new Undefined(expr);
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || Array.isArray(v) || isPlainObject(v)) return v as Data;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new TemplateError(`${expr} is not plain data (${typeof v})`);
}

export function defined(v: Value, what = 'value'): Data {
  if (v instanceof Undefined) throw new TemplateError(`${v.expr} is an undefined ${what}`);
  return v;
}

/** Python's truth: empty strings, lists and mappings, 0, none and false are false. */
export function truthy(v: Value, budget: RenderBudget): boolean {
  const d = defined(v);
  if (Array.isArray(d)) return d.length > 0;
  if (isPlainObject(d)) return budget.keys(d).length > 0;
  return Boolean(d);
}

/**
 * How deep the data a render walks (to_json, ==, in) may be nested: walked recursively, an inventory value
 * nested thousands deep overflowed the stack (`Maximum call stack size exceeded`, no tag or line).
 */
const MAX_DATA_DEPTH = 100;

/** A copy that holds only plain data (null-prototype objects), safe to give to JSON.stringify. */
export function toPlain(v: Value, expr: string, depth = 0): Data {
  const d = defined(v);
  if (depth > MAX_DATA_DEPTH) throw new TemplateError(`${expr} is nested too deeply`);
  if (Array.isArray(d)) return d.map((x, i) => toPlain(checkData(x, `${expr}[${i}]`), expr, depth + 1));
  if (isPlainObject(d)) {
    const out: { [key: string]: Data } = Object.create(null);
    for (const k of Object.keys(d)) out[k] = toPlain(checkData(d[k], `${expr}.${k}`), expr, depth + 1);
    return out;
  }
  return d;
}

export function toJson(v: Value, expr: string): string {
  return JSON.stringify(toPlain(v, expr));
}

/** How a value is written into the output: text as is, numbers and booleans as JavaScript prints them, lists and mappings as JSON. */
export function display(v: Value, expr: string): string {
  const d = defined(v);
  if (d === null) throw new TemplateError(`${expr} is none (null); give a value, or use default(..., true)`);
  if (typeof d === 'string') return d;
  if (typeof d === 'number' || typeof d === 'boolean') return String(d);
  return toJson(d, expr);
}

export function typeName(v: Value): string {
  if (v instanceof Undefined) return 'undefined';
  if (v === null) return 'none';
  if (Array.isArray(v)) return 'a list';
  if (isPlainObject(v)) return 'a mapping';
  return `a ${typeof v}`;
}

/** Deep equality over plain data; each item compared is counted against the render's budget. */
export function equal(a: Value, b: Value, budget: RenderBudget, depth = 0): boolean {
  budget.compare(1);
  const x = defined(a);
  const y = defined(b);
  const deeper = (Array.isArray(x) && Array.isArray(y)) || (isPlainObject(x) && isPlainObject(y));
  if (deeper && depth >= MAX_DATA_DEPTH) throw new TemplateError(`the values compared (==, !=, in) are nested more than ${MAX_DATA_DEPTH} deep`);
  if (Array.isArray(x) || Array.isArray(y)) return Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((v, i) => equal(v, y[i]!, budget, depth + 1));
  if (isPlainObject(x) || isPlainObject(y)) {
    if (!isPlainObject(x) || !isPlainObject(y)) return false;
    const kx = budget.keys(x);
    return kx.length === budget.keys(y).length && kx.every((k) => Object.hasOwn(y, k) && equal(x[k]!, y[k]!, budget, depth + 1));
  }
  return x === y;
}
