import { z } from 'zod';
import { shellQuote as q } from '../shellQuote.js';
import { bundleEntry, bundlePath } from './bundleEntry.js';
import { runScript } from './runScript.js';
import type { StepKind } from './types.js';

const VenvParams = z
  .object({
    path: z.string().startsWith('/', 'an absolute path'),
    /** a requirements file of the bundle, pinned with --hash ("requirements.txt" = files/SERVICE/requirements.txt) */
    requirements: z.string().min(1),
    python: z.string().min(1).default('python3'),
  })
  .strict();
type VenvParams = z.infer<typeof VenvParams>;

/**
 * A virtualenv built on the host from the bundle's wheels only (`--no-index --require-hashes`):
 * virtualenvs are not portable, so they are built where they run. A marker with the requirements'
 * sha256 makes a re-run free; a changed requirements file rebuilds it.
 */
export const venvStep: StepKind<VenvParams> = {
  name: 'venv',
  schema: VenvParams,
  check(p, service, release) {
    return bundleEntry(release, service, p.requirements) ? [] : [`venv requirements ${p.requirements}: the bundle has no ${bundlePath(service, p.requirements)}`];
  },
  async run(p, ctx) {
    const req = bundleEntry(ctx.release, ctx.service, p.requirements)!;
    const script = [
      'set -e',
      `d=${q(p.path)}`,
      `if [ "$(cat "$d/.ferry-requirements" 2>/dev/null)" = ${req.sha256} ]; then exit 0; fi`,
      'mkdir -p "$(dirname "$d")"',
      // built at its final path, because a venv's scripts hard-code where they live; the marker is
      // written last, so a half-built venv is rebuilt by the next run
      'rm -rf "$d"',
      `${q(p.python)} -m venv "$d"`,
      `"$d/bin/pip" install -q --no-index --disable-pip-version-check --find-links ${q(`${ctx.remoteBundle}/python/files`)} --require-hashes -r ${q(`${ctx.remoteBundle}/${req.path}`)}`,
      `echo ${req.sha256} > "$d/.ferry-requirements"`,
      'echo "changed: built"',
    ].join('\n');
    return runScript(ctx, `venv ${p.path}`, script);
  },
};
