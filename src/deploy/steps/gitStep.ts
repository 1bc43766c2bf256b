import { z } from 'zod';
import { BUNDLE_REF } from '../../sources/git/makeGitBundle.js';
import { shellQuote as q } from '../shellQuote.js';
import { runScript } from './runScript.js';
import type { StepKind } from './types.js';
import type { Release } from '../../store/loadRelease.js';

const GitParams = z
  .object({
    name: z.string().min(1),
    dest: z.string().startsWith('/', 'an absolute path'),
    /** a commit to check out; defaults to the commit the bundle pinned */
    commit: z.string().regex(/^[0-9a-f]{7,64}$/).optional(),
  })
  .strict();
type GitParams = z.infer<typeof GitParams>;

/** manifest.artifacts.git[NAME], as the git kind records it. */
const GitInfo = z.looseObject({ path: z.string(), commit: z.string(), shallow: z.array(z.string()).default([]) });

function info(release: Release, name: string) {
  const all = release.manifest.artifacts.git;
  const parsed = GitInfo.safeParse(all && typeof all === 'object' ? (all as Record<string, unknown>)[name] : undefined);
  return parsed.success ? parsed.data : undefined;
}

/**
 * A working copy from the bundle's git bundle, checked out (detached) at the pinned commit. A
 * shallow bundle's boundary commits are marked shallow first, as `git clone --depth` would.
 */
export const gitStep: StepKind<GitParams> = {
  name: 'git',
  schema: GitParams,
  check(p, _service, release) {
    const i = info(release, p.name);
    if (!i) return [`git ${p.name}: the bundle has no git artifact of that name (manifest.artifacts.git.${p.name})`];
    if (!release.manifest.entries.some((e) => e.path === i.path)) return [`git ${p.name}: the bundle has no ${i.path}`];
    return [];
  },
  async run(p, ctx) {
    const i = info(ctx.release, p.name)!;
    const commit = p.commit ?? i.commit;
    const script = [
      'set -e',
      `d=${q(p.dest)}`,
      `want=${commit}`,
      'cur=$(git -C "$d" rev-parse HEAD 2>/dev/null) || cur=',
      'case "$cur" in "$want"*) exit 0;; esac',
      'if [ ! -d "$d/.git" ]; then mkdir -p "$d"; git init -q "$d"; fi',
      ...i.shallow.map((s) => `grep -qx ${s} "$d/.git/shallow" 2>/dev/null || echo ${s} >> "$d/.git/shallow"`),
      `git -C "$d" fetch -q --no-tags ${q(`${ctx.remoteBundle}/${i.path}`)} ${q(`+${BUNDLE_REF}:refs/remotes/ferry/${p.name}`)}`,
      'git -C "$d" -c advice.detachedHead=false checkout -q --detach "$want"',
      'echo "changed: checked out $want"',
    ].join('\n');
    return runScript(ctx, `git ${p.name}`, script);
  },
};
