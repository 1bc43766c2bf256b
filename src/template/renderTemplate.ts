import { DeployError, SpecError } from '../errors.js';
import { evaluateTemplate } from './evaluateTemplate.js';
import { type Node, parseTemplate } from './parseTemplate.js';
import { TemplateError } from './TemplateError.js';
import { RenderBudget } from './templateValue.js';
import { escapeText } from '../util/escapeText.js';
import { keyPath } from '../util/oneLine.js';

/**
 * Templates and string options are Jinja syntax (`{{ var }}`, `{% if %}`, `{% for %}`, filters), the
 * language operators know from Ansible, rendered by ferry's own small evaluator over plain data
 * (src/template/): a template comes from a signed bundle or an inventory, and must never run
 * code on the runner. An undefined variable is an error, not an empty string: a config file with a
 * silently missing value is worse than a failed deploy.
 */
export function renderTemplate(text: string, vars: Record<string, unknown>, label: string, budget?: RenderBudget): string {
  try {
    return evaluateTemplate(parsed(text), vars, budget);
  } catch (err) {
    throw renderError(err, text, label);
  }
}

/** Whether a string holds template syntax (and is rendered per host). */
export function isTemplate(s: string): boolean {
  return s.includes('{{') || s.includes('{%') || s.includes('{#');
}

/** Parse only: the syntax errors, unknown filters and unsupported tags of a template, found before any host is touched. */
export function checkTemplate(text: string, label: string): void {
  try {
    parsed(text);
  } catch (err) {
    throw renderError(err, text, label);
  }
}

/**
 * Render every string inside a step's options (paths like "{{ root }}/etc/app.conf"); `where` names the
 * option in errors. The strings share one budget: a list of a thousand `{{ big }}` builds no more than one
 * template may.
 */
export function renderDeep<T>(value: T, vars: Record<string, unknown>, where: (path: string) => string, path = '', budget = new RenderBudget()): T {
  if (typeof value === 'string') return (isTemplate(value) ? renderTemplate(value, vars, where(path), budget) : value) as T;
  if (Array.isArray(value)) return value.map((v, i) => renderDeep(v, vars, where, `${path}[${i}]`, budget)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, vars, where, keyPath(path, k), budget)])) as T;
  }
  return value;
}

/** How many levels of values referring to values renderVars resolves. */
const VAR_DEPTH = 8;

/**
 * Inventory values may refer to other values ("{{ root }}/data"); resolve them up to VAR_DEPTH levels
 * deep. Values that refer to each other in a loop (`a: "{{ b }}", b: "{{ a }}"`), or deeper than that,
 * are refused (exit 65): before, the last pass's text was used as it stood, so a path or a command got
 * `{{ a }}` itself.
 */
export function renderVars(vars: Record<string, unknown>, label: string): Record<string, unknown> {
  let current = vars;
  // one budget for every pass: a host's values together build no more text than one template may
  const budget = new RenderBudget();
  for (let i = 0; i < VAR_DEPTH; i++) {
    const next = renderDeep(current, current, (path) => `${label}: ${path}`, 'vars', budget);
    if (JSON.stringify(next) === JSON.stringify(current)) {
      // rendering changes nothing more: a value that is still a template renders to itself
      const looping = Object.entries(next).find(([, v]) => hasTemplate(v));
      if (looping) throw new SpecError(`${label}: ${keyPath('vars', looping[0])} still refers to itself once every value is resolved: the values refer to each other in a loop`);
      return next;
    }
    current = next;
  }
  throw new SpecError(`${label}: vars refer to each other more than ${VAR_DEPTH} levels deep, or in a loop`);
}

function hasTemplate(v: unknown): boolean {
  if (typeof v === 'string') return isTemplate(v);
  if (Array.isArray(v)) return v.some(hasTemplate);
  if (v && typeof v === 'object') return Object.values(v).some(hasTemplate);
  return false;
}

/**
 * The parse cache holds at most this many texts, of at most CACHE_CHARS characters together: a thousand
 * templates of 32 MiB each (with their trees) were kept, the runner's memory many times over.
 */
const CACHE_TEXTS = 1000;
export const CACHE_CHARS = 64 * 1024 * 1024;
const cache = new Map<string, Node[] | TemplateError>();
let cachedChars = 0;

/** The texts the parse cache holds and their characters together (for tests). */
export function parseCacheSize(): { texts: number; chars: number } {
  return { texts: cache.size, chars: cachedChars };
}

/** Parsed once per text: the same step options and templates are rendered for every host. */
function parsed(text: string): Node[] {
  let hit = cache.get(text);
  if (!hit) {
    try {
      hit = parseTemplate(text);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      hit = err;
    }
    // the oldest go first; a text larger than the whole bound is parsed each time, never kept
    if (text.length <= CACHE_CHARS) {
      for (const old of cache.keys()) {
        if (cache.size < CACHE_TEXTS && cachedChars + text.length <= CACHE_CHARS) break;
        cache.delete(old);
        cachedChars -= old.length;
      }
      cache.set(text, hit);
      cachedChars += text.length;
    }
  }
  if (hit instanceof TemplateError) throw hit;
  return hit;
}

/** Messages are one line: the label's parts (option and variable keys), the tag and the reason come from input and are shown escaped. */
function renderError(err: unknown, text: string, label: string): DeployError {
  if (!(err instanceof TemplateError)) return new DeployError(`${escapeText(label)}: cannot render: ${escapeText(err instanceof Error ? err.message : String(err))}`);
  const tag = err.tag ? ` ${escapeText(err.tag.length > 120 ? `${err.tag.slice(0, 120)}…` : err.tag)}` : '';
  const line = err.line !== undefined && text.includes('\n') ? `line ${err.line}: ` : '';
  const hint = / is an undefined value$/.test(err.message) ? '; define the variable in the inventory (host, group or top-level vars) or give a default: VALUE | default(...)' : '';
  return new DeployError(`${escapeText(label)}: cannot render${tag}: ${line}${escapeText(err.message)}${hint}`);
}
