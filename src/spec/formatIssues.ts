import type { z } from 'zod';
import { escapeText } from '../ui/escapeText.js';

/** "file: services.web.artifacts.files[0].sha256: expected ..." — one line per problem. */
export function formatIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path
        .map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? escapeText(String(p)) : `.${escapeText(String(p))}`))
        .join('');
      return `${file}: ${path || '(top level)'}: ${escapeText(i.message)}`;
    })
    .join('\n');
}
