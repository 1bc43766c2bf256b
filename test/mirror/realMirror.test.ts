import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { mirrorKind, type MirrorLock } from '../../src/sources/mirrorKind.js';
import { readSystemSources } from '../../src/sources/apt/readSystemSources.js';
import { writeKey } from '../helpers/keys.js';
import { context, materialize } from '../apt/aptSetup.js';
import { serveDir } from '../apt/fixtureUpstream.js';
import { privateApt } from '../apt/privateApt.js';

// Opt-out with FERRY_TEST_MIRROR=0. Runs only when the machine's own configured mirror answers; the
// address comes from the machine's apt sources, never from this repository.
const codename = /^VERSION_CODENAME=(\S+)$/m.exec(await readFile('/etc/os-release', 'utf8').catch(() => ''))?.[1];
const firstSource = (await readSystemSources().catch(() => []))[0];
const mirrorAnswers =
  process.env.FERRY_TEST_MIRROR !== '0' &&
  codename !== undefined &&
  firstSource !== undefined &&
  (await fetch(`${firstSource.uri.replace(/\/+$/, '')}/dists/${firstSource.suites[0]}/InRelease`, { method: 'HEAD', signal: AbortSignal.timeout(5000) }).then(
    (r) => r.ok,
    () => false,
  ));

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
