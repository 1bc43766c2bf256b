import pep440 from '@renovatebot/pep440';

/** PEP 440 equality ("1.0" is "1.0.0"); plain string equality for versions PEP 440 cannot read. */
export function sameVersion(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return pep440.valid(a) !== null && pep440.valid(b) !== null && pep440.eq(a, b);
  } catch {
    return false;
  }
}
