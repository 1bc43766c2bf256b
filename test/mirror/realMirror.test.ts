import { join } from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { mirrorKind, type MirrorLock } from '../../src/sources/mirrorKind.js';
import { codename, mirrorAnswers } from '../apt/machineMirror.js';
import { writeKey } from '../helpers/keys.js';
import { context, materialize } from '../apt/aptSetup.js';
import { serveDir } from '../apt/fixtureUpstream.js';
import { privateApt } from '../apt/privateApt.js';

describe.skipIf(!mirrorAnswers)("a filtered mirror of the machine's real Debian mirror", () => {
  let dir: string;
  let lock: MirrorLock;
  let ctx: Awaited<ReturnType<typeof context>>;
  let key: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirror-real-${process.pid}-`));
    key = await writeKey(dir, 'bundle');
    ctx = await context(
      dir,
      { mirrors: { apt: { debian: { uri: 'system', suites: [codename], filter: { priorities: ['required'], packages: ['nginx-light'], with_dependencies: true } } } } },
      key.secretArmored,
    );
    lock = (await mirrorKind.lock(ctx))!;
  });

  it('selects priority required and nginx-light with their dependencies, from verified indexes', () => {
    const m = lock.apt.debian!;
    const names = m.packages.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['nginx-light', 'libc6', 'dpkg', 'base-files']));
    expect(m.sources.every((s) => s.signers.length > 0)).toBe(true);
    expect(new Set(m.packages.map((p) => p.suite))).toEqual(new Set([codename]));
  });

  it('publishes it; apt-get --simulate against the mirror needs nothing it lacks, and downloads with signatures on', async () => {
    const r = await mirrorKind.collect(lock, ctx);
    const tree = await materialize(r.entries, join(dir, 'tree'));
    const srv = await serveDir(tree);
    try {
      const apt = await privateApt(`deb [signed-by=${key.public}] ${srv.url}/mirrors/debian/debian ${codename} main`);
      const update = await apt.aptGet('update');
      expect(update.code, update.stderr).toBe(0);
      expect(update.stderr).not.toMatch(/^[WE]:/m);
      const carried = new Set(lock.apt.debian!.packages.map((p) => `${p.name} ${p.version}`));
      const roots = [...new Set(lock.apt.debian!.packages.filter((p) => p.priority === 'required').map((p) => p.name)), 'nginx-light'];
      const sim = await apt.simulate(roots);
      expect(sim.result.code, sim.result.stderr).toBe(0);
      // the closure ferry carried covers what apt would install from the mirror
      expect(sim.installs.filter((i) => !carried.has(i))).toEqual([]);
      const dl = await apt.aptGet('install', '-y', '--download-only', '--no-install-recommends', 'nginx-light');
      expect(dl.code, dl.stderr).toBe(0);
    } finally {
      await srv.close();
    }
  });
});
