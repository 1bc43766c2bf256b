import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptKind } from '../../src/sources/apt/aptKind.js';
import { context, materialize } from './aptSetup.js';
import { buildDeb, readPrivate, serveDir, writeUpstream } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';
import { writeKey } from '../helpers/keys.js';

/**
 * Index stanzas that apt-get takes as they are, and that ferry must lock, publish and have the real apt-get
 * install from the bundle: a Priority word written in another case (apt reads it in any case).
 */
describe('index stanzas apt-get takes: ferry locks and publishes them', () => {
  const dirs: string[] = [];
  let up: Awaited<ReturnType<typeof serveDir>>;
  let dir: string;
  let upstreamKey: Awaited<ReturnType<typeof writeKey>>;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-apt-lockstanza-'));
    dirs.push(dir);
    const debs = [
      await buildDeb(dir, { name: 'capital', version: '1', priority: 'Optional', depends: 'helper' }),
      await buildDeb(dir, { name: 'helper', version: '1', priority: 'IMPORTANT' }),
    ];
    upstreamKey = await writeKey(dir, 'upstream');
    bundleKey = await writeKey(dir, 'bundle');
    await writeUpstream(join(dir, 'upstream'), debs, { suite: 'fixture', key: await readPrivate(upstreamKey.secretArmored) });
    up = await serveDir(join(dir, 'upstream'));
  });
  afterAll(async () => {
    await up?.close();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('Priority: Optional (a capitalised word): apt-get installs it upstream; ferry locks it and the bundle installs with apt-get', async () => {
    const upstreamApt = await privateApt(`deb [signed-by=${upstreamKey.public}] ${up.url} fixture main`);
    expect((await upstreamApt.aptGet('update')).code).toBe(0);
    const want = await upstreamApt.simulate(['capital']);
    expect(want.result.code, want.result.stdout + want.result.stderr).toBe(0);
    expect(want.installs).toEqual(['capital 1', 'helper 1']);

    const raw = {
      targets: { debian: { suite: 'bookworm', architectures: ['amd64'] } },
      upstreams: { apt: [{ uri: up.url, suites: ['fixture'], keyring: upstreamKey.public }] },
      services: { web: { version: '1', groups: ['web'], artifacts: { apt: ['capital'] } } },
    };
    const ctx = await context(dir, raw, bundleKey.secretArmored);
    const lock = (await aptKind.lock(ctx))!;
    expect(lock.packages.map((p) => `${p.name} ${p.version} ${p.priority}`)).toEqual(['capital 1 Optional', 'helper 1 IMPORTANT']);
    const result = await aptKind.collect(lock, ctx);
    const repo = await serveDir(await materialize(result.entries, join(dir, 'bundle-tree')));
    try {
      const apt = await privateApt(`deb [signed-by=${bundleKey.public}] ${repo.url}/apt bookworm main`);
      const update = await apt.aptGet('update');
      expect(update.code, update.stdout + update.stderr).toBe(0);
      expect((await apt.simulate(['capital'])).installs).toEqual(want.installs);
    } finally {
      await repo.close();
    }
  });
});
