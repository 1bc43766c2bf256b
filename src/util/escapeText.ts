/** Control characters, invisible formatting (bidi overrides, zero-width) and line separators. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const UNSAFE_KEEP_NEWLINES = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A string from a bundle, an inventory or a host, made safe to print on a terminal: every control or
 * invisible formatting character is shown as an escape (`\x1b`, `\n`, `\u{202e}`), so an ANSI sequence
 * cannot recolour, move the cursor or rewrite earlier lines, and a newline cannot forge an extra line
 * of output. `keepNewlines` is for multi-line messages whose parts were escaped already.
 */
export function escapeText(s: string, opts: { keepNewlines?: boolean } = {}): string {
  return s.replace(opts.keepNewlines ? UNSAFE_KEEP_NEWLINES : UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const cp = c.codePointAt(0)!;
    return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
  });
}
