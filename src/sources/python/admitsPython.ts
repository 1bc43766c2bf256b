import { satisfiesSpecifier } from './satisfiesSpecifier.js';

/**
 * Whether a Requires-Python specifier admits a Python version, as pip 23.2 checks it: the version padded to
 * three parts (`--python-version 3.11` is 3.11.0, so `===3.11` excludes it), clauses PEP 440 cannot read
 * compared as packaging 21.3's LegacySpecifier does (`<=3.11.*` excludes 3.11.0); a specifier pip cannot
 * read at all is ignored, and so is it here.
 */
export function admitsPython(requiresPython: string, version: string): boolean {
  const parts = version.split('.');
  const padded = [...parts, '0', '0'].slice(0, Math.max(3, parts.length)).join('.');
  return satisfiesSpecifier(padded, requiresPython) ?? true;
}
