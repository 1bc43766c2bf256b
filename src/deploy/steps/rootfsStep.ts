import { z } from 'zod';
import { name } from '../../util/names.js';
import { shellQuote as q } from '../shellQuote.js';
import { checkStagedScript } from './checkStagedScript.js';
import { runScript } from './runScript.js';
import type { StepKind } from './types.js';
import type { Release } from '../../store/loadRelease.js';

const RootfsParams = z.object({ name, dest: z.string().startsWith('/', 'an absolute path') }).strict();
type RootfsParams = z.infer<typeof RootfsParams>;

/** The tarball of rootfs NAME: manifest.artifacts.rootfs[NAME].path, as the rootfs kind records it. */
function archive(release: Release, name: string) {
  const all = release.manifest.artifacts.rootfs as Record<string, { path?: unknown }> | undefined;
  const path = all?.[name]?.path;
  return release.manifest.entries.find((e) => e.kind === 'rootfs' && (typeof path === 'string' ? e.path === path : e.path.replace(/\.tar(\.\w+)?$/, '') === `rootfs/${name}`));
}

/**
 * Unpack a rootfs tarball into DEST. It is unpacked beside DEST and renamed into place, so DEST is
 * either the old tree or the complete new one; a marker holding the tarball's sha256 makes re-runs free.
 */
export const rootfsStep: StepKind<RootfsParams> = {
  name: 'rootfs',
  schema: RootfsParams,
  check(p, _service, release) {
    return archive(release, p.name) ? [] : [`rootfs ${p.name}: the bundle has no rootfs/${p.name}.tar.*`];
  },
  async run(p, ctx) {
    const a = archive(ctx.release, p.name)!;
    const d = q(p.dest);
    const script = [
      'set -e',
      checkStagedScript(ctx.remoteBundle, [a]),
      `d=${d}`,
      `if [ "$(cat "$d/.ferry-rootfs" 2>/dev/null)" = ${q(a.sha256)} ]; then exit 0; fi`,
      'mkdir -p "$(dirname "$d")"',
      't=$(mktemp -d "$d.ferry.XXXXXX")',
      `trap 'rm -rf "$t"' EXIT`,
      `tar -x -p --numeric-owner -f ${q(`${ctx.remoteBundle}/${a.path}`)} -C "$t"`,
      `echo ${q(a.sha256)} > "$t/.ferry-rootfs"`,
      'chmod 755 "$t"',
      'if [ -e "$d" ]; then mv "$d" "$d.ferry-old.$$"; fi',
      'mv "$t" "$d"',
      'trap - EXIT',
      'rm -rf "$d.ferry-old.$$"',
      'echo "changed: unpacked"',
    ].join('\n');
    return runScript(ctx, `rootfs ${p.name}`, script);
  },
};
