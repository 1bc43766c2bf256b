import { join } from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptKind, type AptLock } from '../../src/sources/apt/aptKind.js';
import { codename, mirrorAnswers } from './machineMirror.js';
import { writeKey } from '../helpers/keys.js';
import { context, materialize } from './aptSetup.js';
import { serveDir } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';
import { readSystemSources, systemTrustedKeyrings } from '../../src/sources/apt/readSystemSources.js';
import { MORE_REAL_SETS, REAL_SETS } from './realSets.js';

describe.skipIf(!mirrorAnswers)("the machine's real mirror, verified with the system keyrings", () => {
  let dir: string;
  let lock: AptLock;
  let ctx: Awaited<ReturnType<typeof context>>;
  let key: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-apt-mirror-'));
    key = await writeKey(dir, 'bundle');
    ctx = await context(
      dir,
      {
        targets: { debian: { suite: codename, architectures: ['amd64'] } },
        upstreams: { apt: [{ uri: 'system' }] },
        services: { web: { version: '1', groups: ['web'], artifacts: { apt: ['nginx-light', 'python3-venv'] } } },
      },
      key.secretArmored,
    );
    lock = (await aptKind.lock(ctx))!;
  });

  it('resolves nginx-light and python3-venv with their closure from verified indexes', () => {
    const names = lock.packages.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['nginx-light', 'python3-venv', 'libc6']));
    expect(lock.sources.every((s) => s.signers.length > 0)).toBe(true);
  });

  it('fetches the closure, publishes it, and apt-get downloads it all from the bundle repository', async () => {
    const r = await aptKind.collect(lock, ctx);
    const tree = await materialize(r.entries, join(dir, 'tree'));
    const srv = await serveDir(tree);
    try {
      const apt = await privateApt(`deb [signed-by=${key.public}] ${srv.url}/apt ${codename} main`);
      expect((await apt.aptGet('update')).code).toBe(0);
      const dl = await apt.aptGet('install', '-y', '--download-only', '--no-install-recommends', 'nginx-light', 'python3-venv');
      expect(dl.code, dl.stderr).toBe(0);
      expect((await apt.downloaded()).length).toBe(lock.packages.length);
    } finally {
      await srv.close();
    }
  });

  afterAll(() => undefined);
});

// The larger selection, live: one `ferry lock` through the machine's mirror (every suite of its apt
// sources, verified) with one service per set, against `apt-get install --simulate` in a private apt
// state updated from the same sources just before.
const LIVE_SETS = [...REAL_SETS, ...MORE_REAL_SETS];

describe.skipIf(!mirrorAnswers)(`ferry lock agrees with apt-get --simulate through the machine's real mirror on ${LIVE_SETS.length} package sets`, () => {
  let lock: AptLock;
  let apt: Awaited<ReturnType<typeof privateApt>>;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-apt-live-'));
    const key = await writeKey(dir, 'bundle');
    const fallback = (await systemTrustedKeyrings()).join(',');
    const sources = (await readSystemSources()).flatMap((s) =>
      s.suites.map((suite) => `deb [signed-by=${s.signedBy && 'files' in s.signedBy ? s.signedBy.files.join(',') : fallback}] ${s.uri} ${suite} ${s.components.join(' ')}`),
    );
    apt = await privateApt(sources.join('\n'));
    const update = await apt.aptGet('update');
    expect(update.code, update.stderr).toBe(0);
    const services = Object.fromEntries(LIVE_SETS.map((set, i) => [`s${i}`, { version: '1', groups: ['g'], artifacts: { apt: set } }]));
    const ctx = await context(dir, { targets: { debian: { suite: codename, architectures: ['amd64'] } }, upstreams: { apt: [{ uri: 'system' }] }, services }, key.secretArmored);
    lock = (await aptKind.lock(ctx))!;
  });

  it.each(LIVE_SETS.map((set, i) => [set.join(' '), set, `s${i}`]))('%s', async (_label, set, service) => {
    const ours = lock.packages.filter((p) => p.services.includes(service as string)).map((p) => `${p.name} ${p.version}`).sort();
    const sim = await apt.simulate(set as string[]);
    expect(sim.result.code, sim.result.stderr).toBe(0);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours).toEqual(sim.installs);
  });
});
