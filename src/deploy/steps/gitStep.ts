import { z } from 'zod';
import { shellQuote as q } from '../shellQuote.js';
import { runScript } from './runScript.js';
import type { StepKind } from './types.js';
import type { Release } from '../loadRelease.js';

const GitParams = z
  .object({
    name: z.string().min(1),
    dest: z.string().startsWith('/', 'an absolute path'),
    /** a commit to check out; defaults to the commit the bundle pinned */
    commit: z.string().regex(/^[0-9a-f]{7,64}$/).optional(),
  })
  .strict();
type GitParams = z.infer<typeof GitParams>;

const GitInfo = z.looseObject({ name: z.string(), commit: z.string() });

/** The commit the build pinned for a git artifact, from manifest.artifacts.git (a list or a map by name). */
function pinned(release: Release, name: string): string | undefined {
  const info = release.manifest.artifacts.git;
  const list = Array.isArray(info) ? info : info && typeof info === 'object' ? Object.entries(info as Record<string, unknown>).map(([k, v]) => ({ name: k, ...(typeof v === 'object' ? v : { commit: v }) })) : [];
  for (const item of list) {
    const g = GitInfo.safeParse(item);
    if (g.success && g.data.name === name) return g.data.commit;
  }
  return undefined;
}

/** Clone (or update) a working copy from the bundle's git bundle and check out the pinned commit. */
export const gitStep: StepKind<GitParams> = {
  name: 'git',
  schema: GitParams,
  check(p, _service, release) {
    const problems: string[] = [];
    if (!release.manifest.entries.some((e) => e.path === `git/${p.name}.bundle`)) problems.push(`git ${p.name}: the bundle has no git/${p.name}.bundle`);
    if (!p.commit && !pinned(release, p.name)) problems.push(`git ${p.name}: manifest.artifacts.git records no commit for it; give commit:`);
    return problems;
  },
  async run(p, ctx) {
    const commit = p.commit ?? pinned(ctx.release, p.name)!;
    const b = q(`${ctx.remoteBundle}/git/${p.name}.bundle`);
    const script = [
      'set -e',
      `d=${q(p.dest)}`,
      `want=${commit}`,
      'cur=$(git -C "$d" rev-parse HEAD 2>/dev/null) || cur=',
      'case "$cur" in "$want"*) exit 0;; esac',
      'if [ ! -d "$d/.git" ]; then mkdir -p "$(dirname "$d")"; git init -q "$d"; fi',
      `git -C "$d" fetch -q ${b} '+refs/*:refs/remotes/ferry/*'`,
      'git -C "$d" -c advice.detachedHead=false checkout -q --detach "$want"',
      'echo "changed: checked out $want"',
    ].join('\n');
    return runScript(ctx, `git ${p.name}`, script);
  },
};
