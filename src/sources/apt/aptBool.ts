const TRUE = new Set(['yes', 'true', 'with', 'on', 'enable']);
const FALSE = new Set(['no', 'false', 'without', 'off', 'disable']);

/**
 * A yes/no field of a Release (NotAutomatic, ButAutomaticUpgrades, Acquire-By-Hash) as apt's StringToBool
 * reads it: a number that C's strtol (base 0) reads whole, if 0 or 1 ("1", "+1", "01", "0x1"); else
 * yes, true, with, on, enable or no, false, without, off, disable in any case; else `fallback` (apt warns
 * "Unknown flag value"). A comparison with "yes" took "Yes" or "true" for no, where apt pins the suite at 1.
 */
export function aptBool(text: string | undefined, fallback = false): boolean {
  if (text === undefined) return fallback;
  const number = /^\s*([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(text);
  if (number) {
    const digits = number[2]!;
    const magnitude = /^0x/i.test(digits) ? parseInt(digits.slice(2), 16) : digits.startsWith('0') ? parseInt(digits, 8) : Number(digits);
    const value = number[1] === '-' ? -magnitude : magnitude;
    if (value === 0 || value === 1) return value === 1;
  }
  const word = text.toLowerCase();
  if (TRUE.has(word)) return true;
  if (FALSE.has(word)) return false;
  return fallback;
}
