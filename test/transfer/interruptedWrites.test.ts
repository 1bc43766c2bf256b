import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, run, type RunResult } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildRelease, ferry } from './fixtures.js';

/**
 * Commands that write a file under a temporary name (split's .partial volumes, build's and sign's
 * .partial bundle, build's work folder) stopped by Ctrl-C at a chosen system call: strace delivers
 * SIGINT there, with one libuv thread so that the calls are counted in one thread. Afterwards nothing
 * temporary is left, the final names hold complete content, and the exit code is the shell's 130 when
 * ferry stopped (0 when the signal came as the last step finished).
 */
describe('writing commands stopped by Ctrl-C', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let other: Awaited<ReturnType<typeof writeKey>>;
  let bundle: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-intr-writes-'));
    team = await writeKey(dir, 'team');
    other = await writeKey(dir, 'other');
    bundle = (await buildRelease(dir, team.secret, { version: '1.0.0', files: { 'a.bin': randomBytes(200_000) } })).bundle;
  });

  const stopped = (inject: string, args: string[], env: NodeJS.ProcessEnv = {}, path: string[] = []): Promise<RunResult> =>
    run('strace', ['-f', '-qq', '-o', '/dev/null', ...path, '-e', `inject=${inject}:signal=INT`, process.execPath, FERRY_BIN, ...args], { env: { UV_THREADPOOL_SIZE: '1', ...env } });
  const expectStopped = (r: RunResult, what: string) => {
    expect([0, 130], r.stderr).toContain(r.code);
    if (r.code === 130) expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^ferry: interrupted by SIGINT: the ${what} stopped; `));
  };

  it('split, at its first volume\'s fsync: exit 130, no .partial volume left; the next split succeeds', async () => {
    const out = join(dir, 'split');
    const r = await stopped('fsync:when=1', ['split', bundle, '--size', '64K', '--out', out]);
    expect(r.code, r.stderr).toBe(130);
    expectStopped(r, 'split');
    expect(await readdir(out)).toEqual([]);
    const again = await ferry(['split', bundle, '--size', '64K', '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    expect((await ferry(['verify', join(out, 'app-1.0.0.ferry.index.json'), '--keyring', team.public])).code).toBe(0);
  });

  it('sign, as it renames the re-signed bundle into place: no .partial left, the bundle whole', async () => {
    const r = await stopped('rename:when=1', ['sign', bundle, '--key', other.secret]);
    expectStopped(r, 'sign');
    expect((await readdir(join(dir, 'out'))).filter((n) => n.endsWith('.partial'))).toEqual([]);
    expect((await ferry(['verify', bundle, '--keyring', team.public])).code).toBe(0);
  });

  it('build, as it renames the bundle into place: no .partial left, no work folder left in TMPDIR', async () => {
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    const out = join(dir, 'out-build');
    // the build's one rename is its partial bundle's (a name of this build's own) into place: a build of plain files uses no cache
    await buildRelease(dir, team.secret, { version: '2.0.0', files: { 'b.bin': randomBytes(100_000) } }, [], join(dir, 'warm'));
    const r = await stopped('rename', ['build', join(dir, 'spec-app-2.0.0', 'spec.yaml'), '--key', team.secret, '--out', out, '--cache', join(dir, 'cache')], { TMPDIR: tmp });
    expectStopped(r, 'build');
    expect((await readdir(out)).filter((n) => n.endsWith('.partial'))).toEqual([]);
    if (r.code === 0) expect((await ferry(['verify', join(out, 'app-2.0.0.ferry'), '--keyring', team.public])).code).toBe(0);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('build killed: the next build removes the work folder it left in TMPDIR, not a running build\'s', async () => {
    const tmp = join(dir, 'tmp-kill');
    await mkdir(tmp);
    const out = join(dir, 'out-kill');
    await buildRelease(dir, team.secret, { version: '3.0.0', files: { 'c.bin': randomBytes(100_000) } }, [], join(dir, 'warm-kill'));
    const spec = join(dir, 'spec-app-3.0.0', 'spec.yaml');
    const args = ['build', spec, '--key', team.secret, '--out', out, '--cache', join(dir, 'cache')];
    const killed = await run('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'inject=rename:signal=KILL', process.execPath, FERRY_BIN, ...args], { env: { TMPDIR: tmp } });
    expect(killed.code).not.toBe(0);
    const left = await readdir(tmp);
    expect(left).toHaveLength(1);
    // killed as it renamed its partial bundle (a name of its own, NAME-VERSION.ferry.PID.START.PIDNS.partial) into place
    expect(await readdir(out)).toEqual([expect.stringMatching(/^app-3\.0\.0\.ferry\.\d+(\.\d+){0,2}\.partial$/)]);
    // this test's process stands for a build still running
    const live = `ferry-build-${process.pid}-abcDEF`;
    await mkdir(join(tmp, live));
    const again = await run(process.execPath, [FERRY_BIN, ...args], { env: { TMPDIR: tmp } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`removed 1 work folder(s) left by killed builds in ${tmp}`);
    expect(await readdir(tmp)).toEqual([live]);
    // and the partial bundle the killed build left
    expect(await readdir(out)).toEqual(['app-3.0.0.ferry']);
  });
});
