import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { joinProblems, keyPath, parseErrorReason, quoteInput } from '../../src/util/oneLine.js';
import { formatIssues } from '../../src/util/formatIssues.js';

describe('one-line refusals', () => {
  it('joins problems with "; ", names the first five and counts the rest', () => {
    expect(joinProblems(['a', 'b'])).toBe('a; b');
    expect(joinProblems(['1', '2', '3', '4', '5', '6', '7'])).toBe('1; 2; 3; 4; 5; and 2 more');
    expect(joinProblems(['1', '2', '3'], 1)).toBe('1; and 2 more');
  });

  it('quotes input as JSON, cut and escaped, so it cannot end the line', () => {
    expect(quoteInput('bogus')).toBe('"bogus"');
    expect(quoteInput('x\nferry: forged "quoted" \\ \x1b[2J\u202e')).toBe('"x\\nferry: forged \\"quoted\\" \\\\ \\x1b[2J\\u{202e}"');
    expect(quoteInput('a'.repeat(200), 10)).toBe(`"${'a'.repeat(10)}…"`);
  });

  it('names a key path plainly, and quotes a key that is not a plain word', () => {
    expect(keyPath('', 'root')).toBe('root');
    expect(keyPath('vars', 'ferry_data_dir')).toBe('vars.ferry_data_dir');
    expect(keyPath('vars', 'x\nferry: forged')).toBe('vars["x\\nferry: forged"]');
    expect(keyPath('env', 'A B')).toBe('env["A B"]');
    expect(keyPath('', 'a'.repeat(101))).toMatch(/^\["a+…"\]$/);
  });

  it('gives the reason a JSON text did not parse in one line, without the text V8 quotes from it', () => {
    let err: unknown;
    try {
      JSON.parse('{"format":\n\n\nferry: forged');
    } catch (e) {
      err = e;
    }
    const reason = parseErrorReason(err);
    expect(reason).not.toMatch(/[\n\r]/);
    // the quote could be the start of a file a symlink named (a secret): only the kind of fault is kept
    expect(reason).toBe("Unexpected token 'e': not valid JSON");
    expect(parseErrorReason(new Error('x'.repeat(500)))).toHaveLength(201);
  });

  it('gives the reason a YAML text did not parse as its first line, without the text around the fault', () => {
    let err: unknown;
    try {
      parseYaml('a: b: c\nferry: forged\n', { prettyErrors: true });
    } catch (e) {
      err = e;
    }
    expect(parseErrorReason(err)).toBe('Nested mappings are not allowed in compact mappings at line 1, column 4');
  });

  it('formats schema problems as one line, record keys quoted', () => {
    const schema = z.object({ steps: z.record(z.string().regex(/^[a-z]+$/, 'a word'), z.number()) }).strict();
    const parsed = schema.safeParse({ steps: { 'x\nferry: forged': 1, ok: 'no' }, extra: 1, more: 2 });
    expect(parsed.success).toBe(false);
    const line = formatIssues('f.yaml', parsed.error!);
    expect(line).not.toContain('\n');
    expect(line).toContain('f.yaml: steps["x\\nferry: forged"]: a word');
    expect(line).toContain('f.yaml: steps.ok: ');
  });
});
