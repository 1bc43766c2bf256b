import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRefusedGitPath, MAX_GIT_NAME, MAX_GIT_PATH, whyRefused } from '../../src/sources/git/findRefusedGitPath.js';
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

  /** a tree object written as given (git mktree and git add refuse names like `..`; a hostile upstream need not) */
  const rawTreeBytes = (data: Buffer) => execFileSync('git', ['-C', repo, 'hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], { env: { ...process.env, ...ENV }, input: data }).toString().trim();
  const rawTree = (entries: Array<[mode: string, name: string, oid: string]>) =>
    rawTreeBytes(Buffer.concat(entries.map(([mode, name, oid]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, 'hex')]))));

  it(`refuses every path git itself refuses to check out (., .., .git:stream, a\\.git, a link named .gitmodules) or cannot write (a name over ${MAX_GIT_NAME} bytes), and passes names that only look alike`, async () => {
    const link = await git(repo, ['hash-object', '-w', '--stdin'], '/etc');
    const sub = rawTree([['100644', 'evil', blob]]);
    const one = (mode: string, name: string) => findRefusedGitPath(repo, rawTree([[mode, name, mode === '40000' ? sub : mode === '120000' ? link : blob]]));
    expect(await one('40000', '..')).toBe('../evil');
    expect(await one('40000', '.')).toBe('./evil');
    expect(await one('100644', '.git:x')).toBe('.git:x');
    expect(await one('100644', 'GIT~1: ')).toBe('GIT~1: ');
    expect(await one('100644', 'a\\.Git. ')).toBe('a\\.Git. ');
    expect(await one('120000', '.gitmodules')).toBe('.gitmodules');
    expect(await one('120000', '.GitModules. ')).toBe('.GitModules. ');
    expect(await one('120000', 'GITMOD~1')).toBe('GITMOD~1');
    expect(await one('120000', 'gi7eba~9')).toBe('gi7eba~9');
    expect(await one('40000', 'n'.repeat(MAX_GIT_NAME + 1))).toBe(`${'n'.repeat(MAX_GIT_NAME + 1)}/evil`);
    expect(await one('100644', 'é'.repeat(128))).toBe('é'.repeat(128));
    expect(whyRefused('é'.repeat(128))).toBe(`a name longer than ${MAX_GIT_NAME} bytes, which no checkout can write`);
    expect(await one('100644', 'n'.repeat(MAX_GIT_NAME))).toBeUndefined();
    // a name in Latin-1 (not UTF-8) is as long as its bytes
    expect(await findRefusedGitPath(repo, rawTreeBytes(Buffer.concat([Buffer.from('100644 '), Buffer.alloc(MAX_GIT_NAME, 0xe9), Buffer.from([0]), Buffer.from(blob, 'hex')])))).toBeUndefined();
    expect(whyRefused('../evil')).toBe('a path git refuses to check out (an empty, . or .. component)');
    expect(whyRefused('.GitModules. ')).toBe('a symbolic link named .gitmodules, which git refuses to check out');
    expect(whyRefused('a\\.git')).toBe("a path into the clone's own .git folder that git refuses to check out (a hook there would run)");
    for (const [mode, name] of [['100644', '.gitmodules'], ['100644', '...'], ['100644', '..x'], ['100644', '.github'], ['100644', 'a.git'], ['100644', 'git~1x'], ['120000', '.gitmodulesx'], ['120000', 'gitmod~5'], ['120000', '.gitignore'], ['40000', '.x']]) {
      expect(await one(mode!, name!), `${mode} ${name}`).toBeUndefined();
    }
  });

  it("refuses a tree that lists a name twice or out of git's order (git show reads the first entry, a checkout writes the last), and passes git's own order", async () => {
    const other = await git(repo, ['hash-object', '-w', '--stdin'], 'another\n');
    const sub = rawTree([['100644', 'y', blob]]);
    const dup = rawTree([['100644', 'c.py', blob], ['100644', 'c.py', other]]);
    expect(await findRefusedGitPath(repo, dup)).toBe('c.py');
    expect(whyRefused('c.py')).toBe("a name its folder lists twice (or out of git's order), so a checkout writes another file than git shows for it");
    // a file and a folder of one name, with a name that sorts between them
    expect(await findRefusedGitPath(repo, rawTree([['100644', 'a', blob], ['100644', 'a-b', blob], ['40000', 'a', sub]]))).toBe('a');
    expect(await findRefusedGitPath(repo, rawTree([['100644', 'b', blob], ['100644', 'a', blob]]))).toBe('a');
    // deeper: the duplicate inside a folder, after another folder's entries
    expect(await findRefusedGitPath(repo, rawTree([['40000', 'd', sub], ['40000', 'e', dup]]))).toBe('e/c.py');
    // git's order: x.txt before the folder x ('.' < '/'), a folder's entries before the next name
    expect(await findRefusedGitPath(repo, rawTree([['100644', 'x.txt', blob], ['40000', 'x', rawTree([['100644', 'b', blob], ['40000', 'c', sub]])], ['100644', 'x0', blob], ['40000', 'z', sub]]))).toBeUndefined();
  });
});
