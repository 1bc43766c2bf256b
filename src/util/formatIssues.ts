import type * as z from './zod.js';
import { escapeText } from './escapeText.js';
import { joinProblems, keyPath } from './oneLine.js';

/**
 * "file: services.web.artifacts.files[0].sha256: expected ..." — one per problem. Keys and messages may
 * come from a hostile file: keys that are not plain are quoted, messages escaped.
 */
export function issueLines(file: string, error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const path = i.path.reduce<string>((at, p) => (typeof p === 'number' ? `${at}[${p}]` : keyPath(at, String(p))), '');
    // a refused record key: say what a key must be, not only that it is refused
    const message = i.code === 'invalid_key' && i.issues[0] ? i.issues[0].message : i.message;
    return `${file}: ${path || '(top level)'}: ${escapeText(message)}`;
  });
}

/** The problems of a file that does not match its schema, as one line (the first five; the rest counted): a refusal is one line, however many there are. */
export function formatIssues(file: string, error: z.ZodError): string {
  return joinProblems(issueLines(file, error));
}
