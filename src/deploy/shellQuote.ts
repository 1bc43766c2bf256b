/** Quote a string for a POSIX shell: single quotes, with embedded single quotes closed, escaped and reopened. */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
