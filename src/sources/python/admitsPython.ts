import pep440 from '@renovatebot/pep440';
import { satisfiesSpecifier } from './satisfiesSpecifier.js';

/** Whether a Requires-Python specifier admits a Python version; pip ignores one it cannot parse, and so do we. */
export function admitsPython(requiresPython: string, version: string): boolean {
  const spec = requiresPython.replace(/\s+/g, '');
  if (!pep440.validRange(spec)) return true;
  return satisfiesSpecifier(version, spec) ?? pep440.satisfies(version, spec, { prereleases: true });
}
