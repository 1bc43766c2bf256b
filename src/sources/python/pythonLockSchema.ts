import * as z from '../../util/zod.js';
import { SpecError } from '../../errors.js';
import { formatIssues } from '../../util/formatIssues.js';
import type { PythonLock } from './lockPython.js';
import { MAX_REQUIRES_PYTHON } from './indexFile.js';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** one path component of the bundle (python/files/NAME) */
const filename = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+!-]*$/, 'a file name of letters, digits and . _ + ! -');

/** names and versions become lines of the requirements hosts install from: one token each, never an option or a new line */
const projectName = z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$/, 'a project name (PEP 508)');
const projectVersion = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,199}$/, 'a version (PEP 440)');

const PythonLockSchema = z
  .object({
    index: z.string(),
    target: z.object({ version: z.string(), implementation: z.string(), abi: z.string().optional(), platforms: z.array(z.string()) }).strict(),
    files: z.array(
      z
        .object({
          project: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'a normalized project name'),
          version: projectVersion,
          filename,
          url: z.string().regex(/^(https?|file):\/\//, 'an http(s) or file URL'),
          sha256,
          size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
          // written into the bundle's index, where the hosts' pip reads it: a few clauses, as an index gives them
          requires_python: z.string().max(MAX_REQUIRES_PYTHON).optional(),
          kind: z.enum(['wheel', 'sdist']),
          yanked: z.string().optional(),
          services: z.array(z.string()),
        })
        .strict(),
    ),
    services: z.record(
      // a service name becomes a bundle path (python/requirements/NAME.txt): the spec's rule for names
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'a service name of letters, digits and . _ + -'),
      z
        .object({
          requirements: z.string(),
          pins: z.array(z.object({ name: projectName, version: projectVersion, extras: z.array(projectName).optional(), hashes: z.array(sha256).min(1), filename }).strict()),
        })
        .strict(),
    ),
  })
  .strict();

/** The python section of a lock file, checked: `build --locked` trusts nothing it did not write itself. */
export function parsePythonLock(raw: unknown): PythonLock {
  const parsed = PythonLockSchema.safeParse(raw);
  if (!parsed.success) throw new SpecError(formatIssues('lock file, section kinds.python', parsed.error));
  return parsed.data;
}
