import type { Difference } from './types.js';

/** PEP 503 normalized name: pip prints "Foo_Bar", requirements say "foo-bar". */
const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

/** Packages a venv gets from `python -m venv` itself: present without being pinned. */
const BOOTSTRAP = new Set(['pip', 'setuptools', 'wheel', 'distribute', 'pkg-resources']);

/**
 * Compare pinned requirements (`name==version --hash=…`, continuation lines joined) with what
 * `pip list --format=freeze` prints for the venv: a pinned package at another version or missing, and
 * a package nobody pinned, are differences. A pin with an environment marker (`; python_version…`) is
 * only compared when installed: whether it applies to this host is the build's decision.
 */
export function comparePins(requirements: string, freeze: string): Difference[] {
  const pinned = new Map<string, { version: string; conditional: boolean; name: string }>();
  for (const line of requirements.replace(/\\\r?\n/g, ' ').split('\n')) {
    const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;\\]+)\s*(;)?/.exec(line.replace(/(^|\s)#.*$/, ''));
    if (m) pinned.set(normalize(m[1]!), { name: m[1]!, version: m[2]!, conditional: Boolean(m[3]) });
  }
  const installed = new Map<string, { name: string; version: string }>();
  for (const line of freeze.split('\n')) {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$/.exec(line.trim());
    if (m) installed.set(normalize(m[1]!), { name: m[1]!, version: m[2]! });
  }
  const out: Difference[] = [];
  for (const [key, pin] of pinned) {
    const have = installed.get(key);
    if (have?.version === pin.version || (!have && pin.conditional)) continue;
    out.push({ what: 'package', want: `${pin.name} ${pin.version}`, have: have ? `${have.name} ${have.version}` : `${pin.name} not installed` });
  }
  for (const [key, have] of installed) {
    if (!pinned.has(key) && !BOOTSTRAP.has(key)) out.push({ what: 'package', want: `no ${have.name}`, have: `${have.name} ${have.version}` });
  }
  return out;
}
