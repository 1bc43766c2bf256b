import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRefusedGitPath, MAX_GIT_PATH, whyRefused } from '../../src/sources/git/findRefusedGitPath.js';
import { run } from '../helpers/cli.js';

const ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

async function git(repo: string, args: string[], input?: string): Promise<string> {
  const r = await run('git', ['-C', repo, ...args], { env: ENV, input });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('findRefusedGitPath reads the tree listing as it comes', () => {
  let dir: string;
  let repo: string;
  let blob: string;
  /** a tree of `names` (each the one blob) */
  const tree = (names: string[]) => git(repo, ['mktree'], names.map((n) => `100644 blob ${blob}\t${n}\n`).join(''));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-refused-path-'));
    repo = join(dir, 'r');
    await run('git', ['init', '-q', '--bare', repo], { env: ENV });
    blob = await git(repo, ['hash-object', '-w', '--stdin'], 'x\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('finds a .git path listed after 20,000 others (many reads of the output), and passes a tree without one', async () => {
    const many = Array.from({ length: 20000 }, (_, i) => `file-${String(i).padStart(6, '0')}-${'p'.repeat(40)}`);
    expect(await findRefusedGitPath(repo, await tree(many))).toBeUndefined();
    // zz/.GIT sorts after every file-…: the last path listed
    const sub = await tree(['.GIT']);
    const bad = await git(repo, ['mktree'], [...many.map((n) => `100644 blob ${blob}\t${n}\n`), `040000 tree ${sub}\tzz\n`].join(''));
    expect(await findRefusedGitPath(repo, bad)).toBe('zz/.GIT');
  });

  it(`refuses a path longer than ${MAX_GIT_PATH} bytes (no checkout can write it), without reading it whole`, async () => {
    const long = 'a'.repeat(100_000);
    const found = await findRefusedGitPath(repo, await tree(['b', long]));
    expect(found).toBeDefined();
    expect(long.startsWith(found!)).toBe(true);
    expect(whyRefused(found!)).toBe(`a path longer than ${MAX_GIT_PATH} bytes, which no checkout can write`);
  });
});
