import { z } from 'zod';
import { BUNDLE_REF } from '../../sources/git/makeGitBundle.js';
import { shellQuote as q } from '../shellQuote.js';
import { runScript } from './runScript.js';
import { activateScript, treeFor } from './sideBySide.js';
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
 * A working copy from the bundle's git bundle, checked out (detached) at the pinned commit, beside
 * the live one at DEST.d/COMMIT; configure switches DEST to it (sideBySide.ts). A shallow bundle's
 * boundary commits are marked shallow first, as `git clone --depth` would.
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
      `d=${q(treeFor(p.dest, commit.slice(0, 16)))}`,
      `want=${commit}`,
      'cur=$(git -C "$d" rev-parse HEAD 2>/dev/null) || cur=',
      'case "$cur" in "$want"*) exit 0;; esac',
      'rm -rf "$d"',
      'mkdir -p "$d"',
      'git init -q "$d"',
      ...i.shallow.map((s) => `echo ${s} >> "$d/.git/shallow"`),
      `git -C "$d" fetch -q --no-tags ${q(`${ctx.remoteBundle}/${i.path}`)} ${q(`+${BUNDLE_REF}:refs/remotes/ferry/${p.name}`)}`,
      'git -C "$d" -c advice.detachedHead=false checkout -q --detach "$want"',
      'echo "changed: checked out $want"',
    ].join('\n');
    return runScript(ctx, `git ${p.name}`, script);
  },
  async activate(p, ctx) {
    const i = info(ctx.release, p.name)!;
    const commit = p.commit ?? i.commit;
    return runScript(ctx, `git ${p.name}`, activateScript(p.dest, commit.slice(0, 16), `case "$(git rev-parse HEAD 2>/dev/null)" in ${commit}*) true;; *) false;; esac`, `git ${p.name}`));
  },
};
