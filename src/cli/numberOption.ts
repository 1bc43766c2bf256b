import { UsageError } from '../errors.js';

export interface NumberRule {
  /** a count (jobs, releases, days): no fractions */
  whole?: boolean;
  min?: number;
  max?: number;
  /** what the number counts, for the message: "seconds", "MiB" */
  unit?: string;
  /** accepted after the number and dropped: "%" */
  suffix?: string;
}

/**
 * The one parser for every numeric option: `.option('--jobs <n>', '…', numberOption('--jobs', { whole: true, min: 1 }), 8)`.
 * Takes decimal numbers only (not Number()'s 0x10, 0b1, 0o7 or 1e1), and refuses NaN, Infinity, a fraction where
 * a count is meant, or a value out of range, with a usage error naming the option and what it expects.
 */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

export function numberOption(flag: string, rule: NumberRule): (value: string) => number {
  const { whole = false, min, max, unit, suffix } = rule;
  const range = min !== undefined && max !== undefined ? `from ${min} to ${max}` : min !== undefined ? (min === 0 ? '0 or more' : `at least ${min}`) : max !== undefined ? `at most ${max}` : '';
  const expected = `${whole ? 'a whole number' : 'a number'}${unit ? ` of ${unit}` : ''}${range ? `, ${range}` : ''}`;
  return (value) => {
    const text = suffix && value.endsWith(suffix) ? value.slice(0, -suffix.length) : value;
    // decimal only: Number() also reads 0x10, 0b1, 0o7 and 1e1, which nobody means by --jobs or --timeout
    const n = DECIMAL.test(text.trim()) ? Number(text) : NaN;
    if (!Number.isFinite(n) || (whole && !Number.isInteger(n)) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
      throw new UsageError(`${flag} ${value}: expected ${expected}`);
    }
    return n;
  };
}
