import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitStep } from '../../src/deploy/steps/gitStep.js';
import type { StepContext } from '../../src/deploy/steps/types.js';
import { LocalTransport } from '../../src/deploy/transport/localTransport.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import { run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildAndImport, writeSpec } from '../rootfs/helpers.js';
import { git, makeUpstream } from './helpers.js';
import { watchRemovals } from '../helpers/watchRemovals.js';

describe('the deploy git step with a bundle ferry built', () => {
  let dir: string;
  let commits: string[];
  let ctx: StepContext;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-git-step-'));
    const key = await writeKey(dir, 'team');
    ({ commits } = await makeUpstream(join(dir, 'upstream')));
    // depth 1, the default: a shallow history
    const spec = await writeSpec(dir, 'services:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts: { git: [{ url: upstream, ref: stable, name: app }] }\n', 'step');
    const store = join(dir, 'store');
    await buildAndImport({ spec, key, out: join(dir, 'out'), cache: join(dir, 'cache'), store });
    const digest = (await readdir(join(store, 'bundles')))[0]!;
    const bundleDir = join(store, 'bundles', digest);
    const manifest = parseManifest(await readFile(join(bundleDir, 'manifest.json')), 'manifest.json');
    ctx = {
      host: 'local',
      service: 'app',
      stage: 'install',
      transport: new LocalTransport('local'),
      release: { digest, manifest, dir: bundleDir },
      dataDir: dir,
      remoteBundle: bundleDir,
      vars: {},
      changedSoFar: false,
      timeoutMs: 60_000,
    };
  });

  it('checks out the pinned commit from a shallow git bundle beside the live tree, activates it, then finds nothing to do', async () => {
    const dest = join(dir, 'app');
    const first = await gitStep.run({ name: 'app', dest }, ctx);
    expect(first.changed).toBe(true);
    // install prepares beside DEST; only configure's activation makes DEST point there
    await expect(readlink(dest)).rejects.toThrow();
    expect(await git(`${dest}.d/${commits[3]!.slice(0, 16)}`, 'rev-parse', 'HEAD')).toBe(commits[3]);
    expect((await gitStep.activate!({ name: 'app', dest }, { ...ctx, stage: 'configure' })).changed).toBe(true);
    expect(await readlink(dest)).toBe(`app.d/${commits[3]!.slice(0, 16)}`);
    expect(await git(dest, 'rev-parse', 'HEAD')).toBe(commits[3]);
    const second = await gitStep.run({ name: 'app', dest }, ctx);
    expect(second.changed).toBe(false);
    expect((await gitStep.activate!({ name: 'app', dest }, { ...ctx, stage: 'configure' })).changed).toBe(false);
  });

  it('works on its own checkout where GIT_DIR and GIT_WORK_TREE name another repository (a local host deployed from a git hook)', async () => {
    const victim = join(dir, 'victim');
    await run('git', ['clone', '-q', join(dir, 'upstream'), victim]);
    const before = [await git(victim, 'for-each-ref'), await git(victim, 'rev-parse', 'HEAD'), await git(victim, 'status', '--porcelain')];
    const dest = join(dir, 'hooked');
    process.env.GIT_DIR = join(victim, '.git');
    process.env.GIT_WORK_TREE = victim;
    let result;
    try {
      result = await gitStep.run({ name: 'app', dest }, ctx);
    } finally {
      delete process.env.GIT_DIR;
      delete process.env.GIT_WORK_TREE;
    }
    expect(result.changed).toBe(true);
    expect(await git(`${dest}.d/${commits[3]!.slice(0, 16)}`, 'rev-parse', 'HEAD')).toBe(commits[3]);
    expect([await git(victim, 'for-each-ref'), await git(victim, 'rev-parse', 'HEAD'), await git(victim, 'status', '--porcelain')]).toEqual(before);
  });

  it('checks out the sha1 bundle where the environment asks git for sha256 repositories (GIT_DEFAULT_HASH on a local host)', async () => {
    const dest = join(dir, 'defaulthash');
    process.env.GIT_DEFAULT_HASH = 'sha256';
    let result;
    try {
      result = await gitStep.run({ name: 'app', dest }, ctx);
    } finally {
      delete process.env.GIT_DEFAULT_HASH;
    }
    expect(result.changed).toBe(true);
    expect(await git(`${dest}.d/${commits[3]!.slice(0, 16)}`, 'rev-parse', 'HEAD')).toBe(commits[3]);
  });

  it('--repair checks the live checkout out again beside it at ID-r1, never moving or removing the live one; the activation switches the link to it', async () => {
    const dest = join(dir, 'app');
    const id = commits[3]!.slice(0, 16);
    await writeFile(join(dest, 'README'), 'changed by hand\n');
    const watch = await watchRemovals(`${dest}.d`);
    expect((await gitStep.run({ name: 'app', dest }, { ...ctx, repair: true })).changed).toBe(true);
    const removed = await watch.stop();
    // the live checkout is not renamed or removed, not even for a moment: DEST never points at nothing
    expect(removed.filter((e) => e.endsWith(` ${id}`))).toEqual([]);
    expect(await readlink(dest)).toBe(`app.d/${id}`);
    expect(await readFile(join(dest, 'README'), 'utf8')).toBe('changed by hand\n');
    // the new checkout is whole beside it
    expect(await git(`${dest}.d/${id}-r1`, 'rev-parse', 'HEAD')).toBe(commits[3]);
    expect(await git(`${dest}.d/${id}-r1`, 'status', '--porcelain')).toBe('');
    expect((await readdir(`${dest}.d`)).sort()).toEqual([id, `${id}-r1`]);
    // configure's activation switches DEST to it with one rename, keeping the tree it replaced
    expect((await gitStep.activate!({ name: 'app', dest }, { ...ctx, stage: 'configure' })).changed).toBe(true);
    expect(await readlink(dest)).toBe(`app.d/${id}-r1`);
    expect(await git(dest, 'status', '--porcelain')).toBe('');
    expect((await readdir(`${dest}.d`)).sort()).toEqual([id, `${id}-r1`]);
  });
});
