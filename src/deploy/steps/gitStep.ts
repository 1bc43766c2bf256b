import * as z from '../../util/zod.js';
import { BUNDLE_REF } from '../../sources/git/makeGitBundle.js';
import { DROPPED_ENV_VARS } from '../../sources/git/runGit.js';
import { shellQuote as q } from '../../util/shellQuote.js';
import { checkStagedScript } from './checkStagedScript.js';
import { nameSome } from './nameSome.js';
import { runScript } from './runScript.js';
import { BLOCKS, roomScript } from './roomScript.js';
import { activateScript, CHOOSE_SLOT_SCRIPT, inspectActivation, PICK_BEST, slotScript, SWAP_IN_SCRIPT, treeFor } from './sideBySide.js';
import type { StepOptions } from '../../specfile/stepOptions.js';
import type { StepKind } from './types.js';
import type { Release } from '../../store/loadRelease.js';

type GitParams = StepOptions<'git'>;

/** Shell first in every git script: the host's git works on the checkout named, never on a repository its environment names (GIT_DIR from a hook), and makes sha1 repositories as the bundle's. */
const OWN_REPOSITORY = `unset ${DROPPED_ENV_VARS.join(' ')}`;

/** manifest.artifacts.git[NAME], as the git kind records it. */
const hex = z.string().regex(/^[0-9a-f]{7,64}$/, 'a commit id (hex)');
const GitInfo = z.looseObject({ path: z.string(), commit: hex, shallow: z.array(hex).default([]) });

function info(release: Release, name: string) {
  const all = release.manifest.artifacts.git;
  const raw = all && typeof all === 'object' && Object.hasOwn(all, name) ? (all as Record<string, unknown>)[name] : undefined;
  const parsed = GitInfo.safeParse(raw);
  return { raw, info: parsed.success ? parsed.data : undefined };
}

/** Shell run in a tree: its own .git (never one above it) has HEAD at the commit. */
function checkedOut(commit: string): string {
  return `case "$(git --git-dir=.git rev-parse HEAD 2>/dev/null)" in ${q(commit)}*) true;; *) false;; esac`;
}

/**
 * A working copy from the bundle's git bundle, checked out (detached) at the pinned commit, beside
 * the live one at DEST.d/COMMIT; configure switches DEST to it (sideBySide.ts). A shallow bundle's
 * boundary commits are marked shallow first, as `git clone --depth` would. Install never removes or
 * rewrites the checkout DEST points at: one to check out again where that one is live (`--repair`)
 * goes to DEST.d/COMMIT-rN, the next free number, and configure switches DEST to it with one rename.
 */
export const gitStep: StepKind<GitParams> = {
  name: 'git',
  target: (p) => ({ kind: 'tree', path: p.dest }),
  check(p, _service, release) {
    const { raw, info: i } = info(release, p.name);
    if (raw === undefined) return [`git ${p.name}: the bundle has no git artifact of that name (manifest.artifacts.git.${p.name})`];
    if (!i) return [`git ${p.name}: manifest.artifacts.git.${p.name} needs a path and commit ids of 7 to 64 hex digits`];
    if (!release.manifest.entries.some((e) => e.path === i.path)) return [`git ${p.name}: the bundle has no ${i.path}`];
    return [];
  },
  async run(p, ctx) {
    const i = info(ctx.release, p.name).info!;
    const commit = p.commit ?? i.commit;
    const script = [
      'set -e',
      OWN_REPOSITORY,
      `want=${q(commit)}`,
      slotScript(p.dest, commit.slice(0, 16), checkedOut(commit)),
      // --repair: the checkout was found changed, check it out again
      ctx.repair ? '' : 'if [ -n "$best" ] && [ "$best" = "$top" ]; then exit 0; fi',
      // never over the checkout DEST points at (the running service's): that one is checked out again beside it
      ...CHOOSE_SLOT_SCRIPT,
      // the staged git bundle as signed (also when the stage stage was skipped), as apt and rootfs check
      // theirs: one removed or changed on the host since is one line saying to run --force stage
      checkStagedScript(ctx.remoteBundle, ctx.release.manifest.entries.filter((e) => e.path === i.path)),
      'mkdir -p "$vd"',
      't=$(mktemp -d "$d.ferry.XXXXXX")',
      `trap 'rm -rf "$t"' EXIT`,
      'chmod 755 "$t"',
      'git init -q "$t"',
      ...i.shallow.map((s) => `echo ${q(s)} >> "$t/.git/shallow"`),
      `git -C "$t" fetch -q --no-tags ${q(`${ctx.remoteBundle}/${i.path}`)} ${q(`+${BUNDLE_REF}:refs/remotes/ferry/${p.name}`)}`,
      // a small pack can name one large blob at thousands of paths: the checkout is measured before it is written
      // (git ls-tree -r -t -l: MODE TYPE OBJECT SIZE, a folder's size "-"; a name with a newline only counts more)
      roomScript('git -C "$t" ls-tree -r -t -l -z --full-tree "$want" | tr \'\\0\' \'\\n\'', `n++; b += ${BLOCKS('$4')}`, `git ${p.name}: the commit`),
      'git -C "$t" -c advice.detachedHead=false checkout -q --detach "$want"',
      ...SWAP_IN_SCRIPT,
      'echo "changed: checked out $want at $s"',
    ]
      .filter(Boolean)
      .join('\n');
    return runScript(ctx, `git ${p.name}`, script);
  },
  async activate(p, ctx) {
    const i = info(ctx.release, p.name).info!;
    const commit = p.commit ?? i.commit;
    const id = commit.slice(0, 16);
    return runScript(ctx, `git ${p.name}`, activateScript(p.dest, id, checkedOut(commit), `git ${p.name}`, [slotScript(p.dest, id, checkedOut(commit)), PICK_BEST].join('\n')));
  },
  async inspect(p, ctx) {
    const commit = p.commit ?? info(ctx.release, p.name).info!.commit;
    // the checkout the activation takes: the highest-numbered one at the commit
    const id = commit.slice(0, 16);
    const found = await runScript(ctx, `inspect git ${p.name}`, [OWN_REPOSITORY, slotScript(p.dest, id, checkedOut(commit)), 'echo "${best:-$vid}"'].join('\n'));
    const d = treeFor(p.dest, /^[0-9a-f]{16}(-r[1-9][0-9]*)?$/.test(found.stdout.trim()) ? found.stdout.trim() : id);
    // only this checkout's own .git (never one git finds above it), and no optional locks: a plain
    // `git status` refreshes and rewrites the index, and --check changes nothing
    const g = `git --no-optional-locks --git-dir=${q(`${d}/.git`)} --work-tree=${q(d)}`;
    const r = await runScript(ctx, `inspect git ${p.name}`, `${OWN_REPOSITORY}\n[ -d ${q(`${d}/.git`)} ] || exit 0\necho "head $(${g} rev-parse HEAD 2>/dev/null)"\n${g} status --porcelain -z --untracked-files=no`);
    const [first = '', ...rest] = r.stdout.split('\n');
    const head = /^head (\S*)/.exec(first)?.[1] ?? '';
    if (!head.startsWith(commit)) return { target: d, differences: [{ what: 'commit', want: commit.slice(0, 12), have: head ? head.slice(0, 12) : 'no checkout' }] };
    const changed = changedFiles(rest.join('\n'));
    if (!changed.length) return { target: d, differences: [] };
    return { target: d, differences: [{ what: 'worktree', want: 'clean', have: `${changed.length} file${changed.length > 1 ? 's' : ''} differ${changed.length > 1 ? '' : 's'}: ${nameSome(changed)}` }] };
  },
  inspectActivation(p, ctx) {
    const commit = p.commit ?? info(ctx.release, p.name).info!.commit;
    return inspectActivation(ctx, p.dest, commit.slice(0, 16), [OWN_REPOSITORY, slotScript(p.dest, commit.slice(0, 16), checkedOut(commit)), PICK_BEST].join('\n'));
  },
};

/**
 * The tracked files `git status --porcelain -z` names, each with what happened to it: removed,
 * type changed, or changed (content or mode, in the work tree or staged). A rename or copy entry is
 * followed by its source path, which is skipped.
 */
function changedFiles(porcelain: string): string[] {
  const fields = porcelain.split('\0');
  const out: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.length < 4) continue;
    const xy = f.slice(0, 2);
    out.push(`${f.slice(3)} (${xy.includes('D') ? 'removed' : xy.includes('T') ? 'type changed' : 'changed'})`);
    if (/[RC]/.test(xy[0]!)) i++;
  }
  return out;
}
