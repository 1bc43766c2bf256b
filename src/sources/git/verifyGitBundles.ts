import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleFormatError, ToolError } from '../../errors.js';
import { BUNDLE_REF } from './makeGitBundle.js';
import { BUNDLE_OBJECTS, runGit } from './runGit.js';
import { findRefusedGitPath, whyRefused } from './findRefusedGitPath.js';
import { listArtifacts } from '../../bundle/findArtifact.js';
import type { Manifest } from '../../bundle/manifest.js';

/**
 * Check every git bundle of an imported tree with `git bundle verify` (a git bundle header, no
 * prerequisite commits: it must clone on its own) and that it carries exactly the commit the
 * manifest pins, and that the commit's tree holds no path git refuses to check out (`.git/hooks/…`:
 * findRefusedGitPath). The importer calls this after the entries' sha256 matched and before the tree is
 * renamed into the store. `git bundle verify` wants a repository to run in (git < 2.40), so an empty
 * scratch one is made, and the bundles are fetched into it to read their trees.
 */
export async function verifyGitBundles(treeDir: string, manifest: Manifest, scratch: string = tmpdir()): Promise<void> {
  const gits = listArtifacts(manifest, `${manifest.name} ${manifest.version}`).filter((a) => a.kind === 'git');
  if (gits.length === 0) return;
  const repo = await mkdtemp(join(scratch, 'ferry-verify-git-'));
  try {
    await runGit(['init', '--quiet', '--bare', repo]);
    const shallow = new Set<string>();
    for (const g of gits) {
      if (g.kind !== 'git') continue;
      const file = join(treeDir, g.info.path);
      const unusable = (why: string) => new BundleFormatError(`${g.info.path} (git ${g.name}) is not a usable git bundle: ${why.trim()}; the bundle was damaged or made by something other than ferry build`);
      // a bundle's header lists its refs and prerequisites: as long as its maker wants, never held past runTool's bound
      const bounded = { ...BUNDLE_OBJECTS, tooMuchOutput: (limit: number) => unusable(`git lists more than ${limit} bytes of its refs`) };
      let heads: string;
      try {
        const out = await runGit(['-C', repo, 'bundle', 'verify', file], bounded);
        if (!/complete history/.test(out) && /requires/i.test(out)) throw unusable(out);
        // in the scratch repository too: run where ferry was started, git would read the repository around
        // that folder (its config, its object format: a sha256 one refuses every sha1 bundle)
        heads = await runGit(['-C', repo, 'bundle', 'list-heads', file], bounded);
      } catch (err) {
        if (!(err instanceof ToolError && err.stderr !== undefined)) throw err;
        throw unusable(err.stderr);
      }
      const lines = heads.split('\n').filter(Boolean);
      if (lines.length !== 1 || lines[0] !== `${g.info.commit} ${BUNDLE_REF}`) {
        throw new BundleFormatError(`${g.info.path} (git ${g.name}) carries ${lines.join(', ') || 'no refs'}, but the manifest pins ${g.info.commit} ${BUNDLE_REF}`);
      }
      // the commit's tree, read without a checkout: a path git refuses (.git/hooks/…) is refused here, at
      // import, not first on a host. A shallow bundle's boundary commits are marked shallow as on a clone
      for (const c of g.info.shallow) shallow.add(c);
      await writeFile(join(repo, 'shallow'), [...shallow].map((c) => `${c}\n`).join(''));
      try {
        await runGit(['-C', repo, 'fetch', '--quiet', '--no-tags', file, `+${BUNDLE_REF}:refs/heads/check`], BUNDLE_OBJECTS);
      } catch (err) {
        if (!(err instanceof ToolError && err.stderr !== undefined)) throw err;
        throw unusable(err.stderr);
      }
      const refused = await findRefusedGitPath(repo, g.info.commit);
      if (refused !== undefined) {
        throw new BundleFormatError(`${g.info.path} (git ${g.name}): commit ${g.info.commit} holds ${JSON.stringify(refused.slice(0, 200))}, ${whyRefused(refused)}; ferry build never carries one`);
      }
    }
  } finally {
    await rm(repo, { recursive: true, force: true });
  }
}
