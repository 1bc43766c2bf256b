import type { z } from 'zod';

/** "file: services.web.artifacts.files[0].sha256: expected ..." — one line per problem. */
export function formatIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path
        .map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`))
        .join('');
      return `${file}: ${path || '(top level)'}: ${i.message}`;
    })
    .join('\n');
}
