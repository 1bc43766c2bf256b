import { DeployError } from '../errors.js';

/**
 * Quote a string for a POSIX shell: single quotes, with embedded single quotes closed, escaped and
 * reopened; nothing inside is expanded. A NUL cannot be part of a shell word, so it is refused.
 */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new DeployError(`refusing to pass a value with a NUL character to the host's shell: ${JSON.stringify(s.slice(0, 80))}`);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
