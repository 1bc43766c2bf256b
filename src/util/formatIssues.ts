import type { z } from 'zod';
import { escapeText } from './escapeText.js';

/**
 * "file: services.web.artifacts.files[0].sha256: expected ..." — one line per problem. Keys and
 * messages may come from a hostile file: they are printed escaped.
 */
export function formatIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path
        .map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? escapeText(String(p)) : `.${escapeText(String(p))}`))
        .join('');
      // a refused record key: say what a key must be, not only that it is refused
      const message = i.code === 'invalid_key' && i.issues[0] ? i.issues[0].message : i.message;
      return `${file}: ${path || '(top level)'}: ${escapeText(message)}`;
    })
    .join('\n');
}

/** The same problems as one line (the first five; the rest counted): a refusal is one line, however many there are. */
export function formatIssuesOneLine(file: string, error: z.ZodError): string {
  const all = formatIssues(file, error).split('\n');
  return all.slice(0, 5).join('; ') + (all.length > 5 ? `; and ${all.length - 5} more` : '');
}
