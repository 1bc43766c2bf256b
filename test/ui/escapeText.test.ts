import { describe, expect, it } from 'vitest';
import { escapeText } from '../../src/util/escapeText.js';
import { formatTable } from '../../src/ui/formatTable.js';

describe('escapeText', () => {
  it.each([
    ['an ANSI colour and clear-screen', 'a\x1b[31m\x1b[2Jb', 'a\\x1b[31m\\x1b[2Jb'],
    ['a newline, carriage return and tab', 'a\nb\rc\td', 'a\\nb\\rc\\td'],
    ['NUL, BEL, DEL and a C1 control', '\0\x07\x7f\x9b', '\\x00\\x07\\x7f\\x9b'],
    ['bidi overrides and zero-width characters', 'invoice\u202etxt.exe\u200b\u2066', 'invoice\\u{202e}txt.exe\\u{200b}\\u{2066}'],
    ['Unicode line and paragraph separators', 'a\u2028b\u2029c', 'a\\u{2028}b\\u{2029}c'],
  ])('shows %s as escapes', (_label, raw, shown) => {
    expect(escapeText(raw)).toBe(shown);
  });

  it('leaves printable text of any script alone', () => {
    expect(escapeText('café 日本語 #1 +~:=@,! "quoted"')).toBe('café 日本語 #1 +~:=@,! "quoted"');
  });

  it('keeps newlines of a multi-line message when asked, and nothing else', () => {
    expect(escapeText('line one\nline\x1b[2J two', { keepNewlines: true })).toBe('line one\nline\\x1b[2J two');
  });

  it('tables print each cell escaped, so a cell cannot add a row', () => {
    expect(formatTable([['NAME'], ['a\nferry: forged']])).toBe('NAME\na\\nferry: forged\n');
  });
});
