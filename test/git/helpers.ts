import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../helpers/cli.js';

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Upstream',
  GIT_AUTHOR_EMAIL: 'upstream@example.invalid',
  GIT_COMMITTER_NAME: 'Upstream',
  GIT_COMMITTER_EMAIL: 'upstream@example.invalid',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

/** git in a repository, failing loudly; returns trimmed stdout. */
export async function git(repo: string, ...args: string[]): Promise<string> {
  const r = await run('git', ['-C', repo, ...args], { env: GIT_ENV });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Commit `files` (path -> content) in repo at a fixed date, so commit ids are the same on every run. */
export async function commit(repo: string, message: string, files: Record<string, string>, when: number): Promise<string> {
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(repo, p, '..'), { recursive: true });
    await writeFile(join(repo, p), content, { mode: p.endsWith('.sh') ? 0o755 : 0o644 });
  }
  await git(repo, 'add', '-A');
  const date = `@${when} +0000`;
  const r = await run('git', ['-C', repo, 'commit', '-q', '-m', message], { env: { ...GIT_ENV, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } });
  if (r.code !== 0) throw new Error(`git commit failed: ${r.stderr}`);
  return git(repo, 'rev-parse', 'HEAD');
}

/** An upstream repository with five commits on main, an annotated tag v1.0 at the third and a branch "stable" at the fourth. */
export async function makeUpstream(repo: string): Promise<{ commits: string[] }> {
  await mkdir(repo, { recursive: true });
  await git(repo, 'init', '-q', '-b', 'main');
  const commits: string[] = [];
  for (let i = 1; i <= 5; i++) {
    commits.push(await commit(repo, `change ${i}`, { 'README.md': `version ${i}\n`, [`src/file${i}.txt`]: `content ${i}\n`, 'bin/run.sh': `#!/bin/sh\necho ${i}\n` }, 1700000000 + i * 60));
    if (i === 3) await run('git', ['-C', repo, 'tag', '-a', 'v1.0', '-m', 'release 1.0'], { env: { ...GIT_ENV, GIT_COMMITTER_DATE: '@1700000200 +0000' } });
    if (i === 4) await git(repo, 'branch', 'stable');
  }
  return { commits };
}
