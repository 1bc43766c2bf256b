import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { sha256Hex } from '../../util/sha256.js';
import type { Release } from '../loadRelease.js';
import { shellQuote as q } from '../shellQuote.js';
import { bundleEntry, bundlePath } from './bundleEntry.js';
import { runScript } from './runScript.js';
import type { StepKind } from './types.js';

const VenvParams = z
  .object({
    path: z.string().startsWith('/', 'an absolute path'),
    /** a requirements file of the bundle pinned with --hash ("requirements.txt" = files/SERVICE/requirements.txt);
     *  by default the service's pins the build recorded in manifest.artifacts.python */
    requirements: z.string().min(1).optional(),
    python: z.string().min(1).default('python3'),
  })
  .strict();
type VenvParams = z.infer<typeof VenvParams>;

/** The requirements text the build recorded for a service (manifest.artifacts.python.services.SERVICE.requirements). */
function recorded(release: Release, service: string): string | undefined {
  const py = release.manifest.artifacts.python as { services?: Record<string, { requirements?: unknown }> } | undefined;
  const text = py?.services?.[service]?.requirements;
  return typeof text === 'string' ? text : undefined;
}

/**
 * A virtualenv built on the host from the bundle's wheels only (`--no-index --require-hashes`):
 * virtualenvs are not portable, so they are built where they run. A marker with the requirements'
 * sha256 makes a re-run free; changed requirements rebuild it.
 */
export const venvStep: StepKind<VenvParams> = {
  name: 'venv',
  schema: VenvParams,
  check(p, service, release) {
    if (p.requirements) return bundleEntry(release, service, p.requirements) ? [] : [`venv requirements ${p.requirements}: the bundle has no ${bundlePath(service, p.requirements)}`];
    return recorded(release, service) ? [] : [`venv ${p.path}: the bundle records no Python requirements for service ${service} (artifacts.python in the spec), and the step names no requirements file`];
  },
  async run(p, ctx) {
    const entry = p.requirements ? bundleEntry(ctx.release, ctx.service, p.requirements)! : undefined;
    const text = entry ? await readFile(join(ctx.release.dir, entry.path), 'utf8') : recorded(ctx.release, ctx.service)!;
    const script = [
      'set -e',
      `d=${q(p.path)}`,
      `if [ "$(cat "$d/.ferry-requirements" 2>/dev/null)" = ${sha256Hex(text)} ]; then exit 0; fi`,
      'req=$(mktemp)',
      `trap 'rm -f "$req"' EXIT`,
      'cat > "$req"',
      'mkdir -p "$(dirname "$d")"',
      // built at its final path, because a venv's scripts hard-code where they live; the marker is
      // written last, so a half-built venv is rebuilt by the next run
      'rm -rf "$d"',
      `${q(p.python)} -m venv "$d"`,
      `"$d/bin/pip" install -q --no-index --disable-pip-version-check --find-links ${q(`${ctx.remoteBundle}/python/files`)} --require-hashes -r "$req"`,
      `echo ${sha256Hex(text)} > "$d/.ferry-requirements"`,
      'echo "changed: built"',
    ].join('\n');
    return runScript(ctx, `venv ${p.path}`, script, { stdin: text });
  },
};
