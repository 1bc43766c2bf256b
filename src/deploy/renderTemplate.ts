import nunjucks from 'nunjucks';
import { DeployError } from '../errors.js';

/**
 * Templates are Jinja2 syntax (`{{ var }}`, `{% if %}`, filters), the language operators know from
 * Ansible, rendered by nunjucks. An undefined variable is an error, not an empty string: a config file
 * with a silently missing value is worse than a failed deploy.
 */
const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });

export function renderTemplate(text: string, vars: Record<string, unknown>, label: string): string {
  try {
    return env.renderString(text, vars);
  } catch (err) {
    const msg = (err as Error).message.replace(/^\(unknown path\)\s*/, '').replace(/\s+/g, ' ').trim();
    throw new DeployError(`${label}: cannot render: ${msg}; define the variable in the inventory (host, group or top-level vars)`);
  }
}

/** Render every string inside a step's options (paths like "{{ root }}/etc/app.conf"). */
export function renderDeep<T>(value: T, vars: Record<string, unknown>, label: string): T {
  if (typeof value === 'string') return (value.includes('{{') || value.includes('{%') ? renderTemplate(value, vars, label) : value) as T;
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, vars, label)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, vars, label)])) as T;
  }
  return value;
}

/** Inventory values may refer to other values ("{{ root }}/data"); resolve them a few levels deep. */
export function renderVars(vars: Record<string, unknown>, label: string): Record<string, unknown> {
  let current = vars;
  for (let i = 0; i < 4; i++) {
    const next = renderDeep(current, current, label);
    if (JSON.stringify(next) === JSON.stringify(current)) return next;
    current = next;
  }
  return current;
}
