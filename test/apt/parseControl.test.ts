import { describe, expect, it } from 'vitest';
import { formatParagraph, parseControl, parseControlStream } from '../../src/sources/apt/parseControl.js';

describe('parseControl', () => {
  it('reads paragraphs, continuation lines and comments, and writes them back unchanged', () => {
    const text = 'Package: a\nDescription: short\n long line\n .\n more\n\n# comment\nPackage: b\nSHA256:\n 00 1 main/x\n';
    const [a, b] = parseControl(text);
    expect(a!.get('Description')).toBe('short\n long line\n .\n more');
    expect(b!.get('SHA256')).toBe('\n 00 1 main/x');
    expect(formatParagraph(a!) + '\n' + formatParagraph(b!)).toBe(text.replace('# comment\n', ''));
  });

  it('keeps a UTF-8 character that is split between two chunks of a stream', async () => {
    const bytes = Buffer.from('Package: a\nMaintainer: Jörg Ünïcödé <j@example.invalid>\n', 'utf8');
    const at = bytes.indexOf(0xc3) + 1; // in the middle of "ö"
    const out = [];
    for await (const p of parseControlStream([bytes.subarray(0, at), bytes.subarray(at)])) out.push(p);
    expect(out[0]!.get('Maintainer')).toBe('Jörg Ünïcödé <j@example.invalid>');
  });

  it('keeps only the asked fields, skipping their continuation lines', async () => {
    const out = [];
    for await (const p of parseControlStream(['Package: a\nDescription: x\n long\nVersion: 1\n\nDescription: only\n'], new Set(['Package', 'Version']))) out.push(p);
    expect(out.map((p) => Object.fromEntries(p))).toEqual([{ Package: 'a', Version: '1' }]);
  });

  it('reads a stream cut anywhere (inside a line, at a newline, in a blank line, in chunks without a newline) as the whole text', async () => {
    const text = 'Package: a\r\nDepends: b (>= 1), c\n more\n\nPackage: d\nVersion: 2\n\n\nPackage: e\n';
    const whole = parseControl(text).map((p) => Object.fromEntries(p));
    const bytes = Buffer.from(text, 'utf8');
    for (let size = 1; size <= bytes.length; size++) {
      const chunks = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      const out = [];
      for await (const p of parseControlStream(chunks)) out.push(Object.fromEntries(p));
      expect(out, `chunks of ${size} bytes`).toEqual(whole);
    }
    expect(whole.map((p) => p.Package)).toEqual(['a', 'd', 'e']);
  });
});

