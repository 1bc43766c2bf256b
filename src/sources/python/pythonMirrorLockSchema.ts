import * as z from '../../util/zod.js';
import { SpecError } from '../../errors.js';
import { PythonTarget } from '../../specfile/schema.js';
import { formatIssues } from '../../util/formatIssues.js';
import type { PythonMirrorLock } from './lockPythonMirror.js';
import { SAFE_DIST_FILENAME } from './lockPythonMirror.js';
import { MAX_REQUIRES_PYTHON } from './indexFile.js';

const PythonMirrorLockSchema = z
  .object({
    index: z.string(),
    projects: z.array(z.string()),
    targets: z.array(PythonTarget),
    sdists: z.boolean(),
    // as ferry lock writes it (Date.toISOString): build --locked re-selects from the files the index dates by then
    locked_at: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'a time like 2026-11-20T10:00:00.000Z').refine((t) => Number.isFinite(Date.parse(t)), 'a time like 2026-11-20T10:00:00.000Z').optional(),
    files: z.array(
      z
        .object({
          // both become bundle paths: mirrors/NAME/simple/PROJECT/, mirrors/NAME/files/FILE
          project: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'a normalized project name'),
          version: z.string(),
          filename: z.string().regex(SAFE_DIST_FILENAME, 'a file name of letters, digits and . _ + ! -'),
          url: z.string().regex(/^(https?|file):\/\/|^\//, 'an http(s) or file URL, or an absolute path'),
          sha256: z.string().regex(/^[0-9a-f]{64}$/),
          size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
          kind: z.enum(['wheel', 'sdist']),
          // evaluated per target while the build walks the selection: a few clauses, as an index gives them
          requires_python: z.string().max(MAX_REQUIRES_PYTHON).optional(),
          yanked: z.string().optional(),
        })
        .strict(),
    ),
  })
  .strict();

/** One Python mirror's section of a lock file, checked: `build --locked` trusts nothing it did not write itself. */
export function parsePythonMirrorLock(raw: unknown, name: string): PythonMirrorLock {
  const parsed = PythonMirrorLockSchema.safeParse(raw);
  if (!parsed.success) throw new SpecError(formatIssues(`lock file, section kinds.mirror.python.${name}`, parsed.error));
  const seen = new Set<string>();
  for (const f of parsed.data.files) {
    if (seen.has(f.filename)) throw new SpecError(`lock file, section kinds.mirror.python.${name}: ${f.filename} is listed twice; run ferry lock again`);
    seen.add(f.filename);
  }
  return parsed.data;
}
