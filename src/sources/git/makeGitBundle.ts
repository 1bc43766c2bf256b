import { mkdtemp, readFile, rename, rm, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FetchError, ToolError } from '../../errors.js';
import { partialPathFor } from '../../util/partialFile.js';
import { runGit } from './runGit.js';
import { boundedGitFetch } from './boundedGitFetch.js';
import { findRefusedGitPath, whyRefused } from './findRefusedGitPath.js';

/** The ref name a ferry git bundle carries its pinned commit under. */
export const BUNDLE_REF = 'refs/heads/ferry';

/** Where the fallback fetch by ref puts what the ref names (a tag object too) before it is checked. */
const FETCHED_REF = 'refs/ferry/fetched';

export interface GitBundleInfo {
  /** commits whose parents the bundle leaves out (a shallow history); empty for full history */
  shallow: string[];
}

/**
 * Write a `git bundle` holding exactly `commit` (with `depth` commits of history, 0 = all) under
 * the ref refs/heads/ferry. The objects are fetched into an empty scratch repository and repacked
 * there from scratch with one thread, every object compressed again (-F: a pack fetched whole keeps
 * the upstream's zlib streams, which change when the upstream repacks), so the bundle's bytes depend on
 * the commit's objects and the git version, not on how the upstream happens to be packed: the same
 * commit gives the same bundle.
 *
 * git bundles cannot say that a history is shallow, so the boundary commits are returned for the
 * manifest; cloneGitBundle marks them shallow before it fetches from the bundle.
 */
export async function makeGitBundle(opts: { url: string; ref: string; commit: string; depth: number; dest: string; scratch: string }): Promise<GitBundleInfo> {
  await mkdir(opts.scratch, { recursive: true });
  const repo = await mkdtemp(join(opts.scratch, 'git-'));
  try {
    // no template (GIT_TEMPLATE_DIR may name one whose config sets the compression the repack uses)
    await runGit(['init', '--quiet', '--bare', '--template=', repo]);
    const depth = opts.depth > 0 ? [`--depth=${opts.depth}`] : [];
    try {
      await boundedGitFetch(repo, opts.url, ['--quiet', '--no-tags', ...depth, '--', opts.url, `${opts.commit}:${BUNDLE_REF}`]);
    } catch (err) {
      if (!(err instanceof ToolError && err.stderr !== undefined)) throw err;
      // servers that refuse to serve a commit by id: fetch the ref the lock came from and check it still points
      // there. Into a ref outside refs/heads: an annotated tag (the usual ref) is a tag object, which git puts
      // into no branch; the commit it peels to becomes the bundle's ref, the tag's own ref goes again
      try {
        await boundedGitFetch(repo, opts.url, ['--quiet', '--no-tags', ...depth, '--', opts.url, `+${opts.ref}:${FETCHED_REF}`]);
      } catch (err2) {
        if (!(err2 instanceof ToolError && err2.stderr !== undefined)) throw err2;
        throw new FetchError(`cannot fetch commit ${opts.commit} (ref ${opts.ref}) from ${opts.url}: ${err2.stderr.trim()}`, { cause: err2 });
      }
      // a ref that peels to no commit (a tag of a tree) is one that does not point at the pinned commit
      const got = (await runGit(['-C', repo, 'rev-parse', '--verify', '--quiet', `${FETCHED_REF}^{commit}`]).catch(() => '')).trim() || 'no commit';
      if (got !== opts.commit) {
        throw new FetchError(
          `${opts.url}: ${opts.ref} now points at ${got}, but the lock pins ${opts.commit}, and the server does not serve commits by id; run \`ferry lock\` again to pin the new commit, or pin the old one with a ref that still points at it`,
        );
      }
      await runGit(['-C', repo, 'update-ref', BUNDLE_REF, opts.commit]);
      await runGit(['-C', repo, 'update-ref', '-d', FETCHED_REF]);
    }
    const refused = await findRefusedGitPath(repo, BUNDLE_REF);
    if (refused !== undefined) {
      throw new FetchError(`${opts.url}: commit ${opts.commit} holds ${JSON.stringify(refused.slice(0, 200))}, ${whyRefused(refused)}; ferry carries no such repository`);
    }
    await runGit(['-C', repo, '-c', 'pack.threads=1', 'repack', '--quiet', '-a', '-d', '-F', '--threads=1']);
    await mkdir(dirname(opts.dest), { recursive: true });
    const tmp = partialPathFor(opts.dest);
    await runGit(['-C', repo, '-c', 'pack.threads=1', 'bundle', 'create', '--quiet', tmp, BUNDLE_REF]);
    await rename(tmp, opts.dest);
    const shallow = await readFile(join(repo, 'shallow'), 'utf8').catch(() => '');
    return { shallow: shallow.split('\n').filter(Boolean).sort() };
  } finally {
    await rm(repo, { recursive: true, force: true });
  }
}
