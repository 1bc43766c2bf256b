import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleFormatError, ToolError } from '../../errors.js';
import { BUNDLE_REF } from './makeGitBundle.js';
import { runGit } from './runGit.js';
import { listArtifacts } from '../../bundle/findArtifact.js';
import type { Manifest } from '../../bundle/manifest.js';

/**
 * Check every git bundle of an imported tree with `git bundle verify` (a git bundle header, no
 * prerequisite commits: it must clone on its own) and that it carries exactly the commit the
 * manifest pins. The importer calls this after the entries' sha256 matched and before the tree is
 * renamed into the store. `git bundle verify` wants a repository to run in (git < 2.40), so an empty
 * scratch one is made.
 */
export async function verifyGitBundles(treeDir: string, manifest: Manifest, scratch: string = tmpdir()): Promise<void> {
  const gits = listArtifacts(manifest, `${manifest.name} ${manifest.version}`).filter((a) => a.kind === 'git');
  if (gits.length === 0) return;
  const repo = await mkdtemp(join(scratch, 'ferry-verify-git-'));
  try {
    await runGit(['init', '--quiet', '--bare', repo]);
    for (const g of gits) {
      if (g.kind !== 'git') continue;
      const file = join(treeDir, g.info.path);
      const unusable = (why: string) => new BundleFormatError(`${g.info.path} (git ${g.name}) is not a usable git bundle: ${why.trim()}; the bundle was damaged or made by something other than ferry build`);
      let heads: string;
      try {
        const out = await runGit(['-C', repo, 'bundle', 'verify', file]);
        if (!/complete history/.test(out) && /requires/i.test(out)) throw unusable(out);
        heads = await runGit(['bundle', 'list-heads', file]);
      } catch (err) {
        if (!(err instanceof ToolError && err.stderr !== undefined)) throw err;
        throw unusable(err.stderr);
      }
      const lines = heads.split('\n').filter(Boolean);
      if (lines.length !== 1 || lines[0] !== `${g.info.commit} ${BUNDLE_REF}`) {
        throw new BundleFormatError(`${g.info.path} (git ${g.name}) carries ${lines.join(', ') || 'no refs'}, but the manifest pins ${g.info.commit} ${BUNDLE_REF}`);
      }
    }
  } finally {
    await rm(repo, { recursive: true, force: true });
  }
}
