import { join, resolve } from 'node:path';
import type { ArtifactKind, BuildContext, KindResult } from '../kind.js';
import { SpecError } from '../../errors.js';
import { lockEntries, lockMatchesSpec, withoutPins } from '../../specfile/lockMatchesSpec.js';
import { COMMIT_RE } from '../../util/names.js';
import { sha256File } from '../../util/sha256.js';
import { isRelativeGitPath } from './isRelativeGitPath.js';
import { makeGitBundle } from './makeGitBundle.js';
import { refIsCommit, resolveGitRef } from './resolveGitRef.js';
import { gitPurl, isUrl } from '../../sbom/purl.js';

export interface GitLockEntry {
  name: string;
  /** as the spec writes it (a relative path stays relative to the spec, so the lock moves with it) */
  url: string;
  ref: string;
  commit: string;
  depth: number;
  services: string[];
}
export type GitLock = GitLockEntry[];

/** What manifest.artifacts.git records per repository: enough to check and clone the bundle. */
export interface GitArtifactInfo {
  path: string;
  url: string;
  ref: string;
  commit: string;
  depth: number;
  shallow: string[];
  sha256: string;
  size: number;
  services: string[];
}

/** A URL as git takes it; a plain path is resolved against the spec's folder. */
function normalizeUrl(url: string, baseDir: string): string {
  return isRelativeGitPath(url) ? resolve(baseDir, url) : url;
}

function defaultName(url: string): string {
  const last = url.replace(/\/+$/, '').split(/[/:]/).pop() ?? '';
  return last.replace(/\.git$/, '');
}

/**
 * The `git` artifact kind: services' `artifacts.git: [{url, ref, name, depth}]`. `lock` pins each ref
 * to a commit; `collect` writes git/NAME.bundle holding exactly that commit.
 */
export const gitKind: ArtifactKind<GitLock> = {
  name: 'git',

  async lock(ctx: BuildContext): Promise<GitLock | undefined> {
    const planned = planGit(ctx);
    if (planned.length === 0) return undefined;
    const lock: GitLock = [];
    for (const e of planned) {
      const commit = await resolveGitRef(normalizeUrl(e.url, ctx.baseDir), e.ref, join(ctx.workDir, 'scratch'));
      ctx.log.info(`git ${e.name}: ${e.ref} -> ${commit}`);
      lock.push({ ...e, commit });
    }
    return lock;
  },

  async collect(section: GitLock, ctx: BuildContext): Promise<KindResult> {
    // the lock pins each commit; its names, URLs, refs and depths are the spec's (a hand-edited name
    // like ../../x would write the bundle file outside the build's folder, another URL fetch elsewhere)
    const lock = lockEntries('git', section) as unknown as GitLock;
    lockMatchesSpec('git', planGit(ctx), lock.map((e) => withoutPins(e as unknown as Record<string, unknown>, ['commit'])));
    for (const e of lock) {
      if (typeof e.commit !== 'string' || !COMMIT_RE.test(e.commit)) throw new SpecError(`lock: git ${e.name}: commit ${JSON.stringify(e.commit)} is not a full git commit id; run ferry lock again`);
      // a spec whose ref is a commit id chose the commit: the lock pins that one (the manifest would record both)
      if (refIsCommit(e.ref) && e.commit !== e.ref) throw new SpecError(`lock: git ${e.name}: commit ${e.commit} is not the commit the spec's ref names (${e.ref}); run ferry lock again and review the diff`);
    }
    const entries: KindResult['entries'] = [];
    const artifacts: Record<string, GitArtifactInfo> = {};
    const components: NonNullable<KindResult['components']> = [];
    for (const e of lock) {
      const path = `git/${e.name}.bundle`;
      const file = join(ctx.workDir, path);
      const { shallow } = await makeGitBundle({ url: normalizeUrl(e.url, ctx.baseDir), ref: e.ref, commit: e.commit, depth: e.depth, dest: file, scratch: join(ctx.workDir, 'scratch') });
      const { sha256, size } = await sha256File(file);
      ctx.log.info(`git ${e.name}: bundled ${e.commit} (${e.depth ? `depth ${e.depth}` : 'full history'}, ${size} bytes)`);
      // made and hashed by this build in its work folder: not hashed again as it is packed
      entries.push({ path, file, kind: 'git', services: e.services, known: { sha256, size }, verified: true });
      artifacts[e.name] = { path, url: e.url, ref: e.ref, commit: e.commit, depth: e.depth, shallow, sha256, size, services: e.services };
      components.push({
        ref: path,
        type: 'application',
        name: e.name,
        version: e.commit,
        purl: gitPurl(e.name, e.commit, e.url),
        sha256,
        path,
        services: e.services,
        ...(isUrl(e.url) && { vcs: e.url }),
        properties: [
          { name: 'ferry:git:url', value: e.url },
          { name: 'ferry:git:ref', value: e.ref },
          { name: 'ferry:git:commit', value: e.commit },
        ],
      });
    }
    return { entries, artifacts, components };
  },
};

/** What the spec asks of git, in lock order: each repository once by name, with the services that use it. */
function planGit(ctx: BuildContext): Array<Omit<GitLockEntry, 'commit'>> {
  const byName = new Map<string, Omit<GitLockEntry, 'commit'>>();
  for (const [service, svc] of Object.entries(ctx.spec.services).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const g of svc.artifacts.git) {
      const url = g.url;
      const name = g.name ?? defaultName(g.url);
      if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name)) {
        throw new SpecError(`services.${service}.artifacts.git: cannot derive a name from ${g.url} ("${name}"); give it a name:`);
      }
      const seen = byName.get(name);
      if (seen) {
        if (seen.url !== url || seen.ref !== g.ref || seen.depth !== g.depth) {
          throw new SpecError(
            `git artifact "${name}" is declared twice with different url/ref/depth (services ${seen.services.join(', ')} and ${service}); give one of them another name:`,
          );
        }
        if (!seen.services.includes(service)) seen.services.push(service);
        continue;
      }
      byName.set(name, { name, url, ref: g.ref, depth: g.depth, services: [service] });
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}
