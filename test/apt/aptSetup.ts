import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';
import type { BuildContext, BundleInput } from '../../src/sources/kind.js';
import { createFetchStats } from '../../src/fetch/createFetchStats.js';
import { Spec } from '../../src/specfile/schema.js';
import { silentLogger } from '../../src/ui/log.js';
import { writeKey } from '../helpers/keys.js';
import { FIXTURE } from './fixturePackages.js';
import { buildDeb, readPrivate, serveDir, writeUpstream } from './fixtureUpstream.js';

export const EPOCH = new Date('2026-11-25T00:00:00Z');

/** Fixture folders made by the test file that imports this, removed after its last test. */
const made: string[] = [];
afterAll(() => Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true }))));

/** Build the fixture debs, publish them as a signed upstream served on 127.0.0.1, and make keys. */
export async function fixtureUpstream(opts: { compress?: Array<'gz' | 'xz' | 'plain'>; inRelease?: boolean } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-apt-fixture-'));
  made.push(dir);
  const debs = [];
  for (const d of FIXTURE) debs.push(await buildDeb(dir, d));
  const upstreamKey = await writeKey(dir, 'upstream');
  const bundleKey = await writeKey(dir, 'bundle');
  const otherKey = await writeKey(dir, 'other');
  await writeUpstream(join(dir, 'upstream'), debs, { suite: 'fixture', key: await readPrivate(upstreamKey.secretArmored), compress: opts.compress, inRelease: opts.inRelease });
  const server = await serveDir(join(dir, 'upstream'));
  return { dir, debs, upstreamKey, bundleKey, otherKey, server, upstreamRoot: join(dir, 'upstream') };
}

/** A build context as the lead's pipeline makes it, for calling the kind directly. */
export async function context(dir: string, raw: Record<string, unknown>, signingArmored: string, cacheDir = join(dir, 'cache')): Promise<BuildContext> {
  const spec = Spec.parse({ name: 'aptdemo', version: '1.0.0', epoch: EPOCH.toISOString(), ...raw });
  return {
    spec,
    baseDir: dir,
    epoch: EPOCH,
    cacheDir,
    workDir: await mkdtemp(join(dir, 'work-')),
    signingKeys: async () => [await readPrivate(signingArmored)],
    jobs: 4,
    log: silentLogger,
    fetchStats: createFetchStats(),
  };
}

/** Copy a kind's entries to where they would be in the bundle, to serve them like `ferry serve` would. */
export async function materialize(entries: BundleInput[], root: string): Promise<string> {
  for (const e of entries) {
    await mkdir(dirname(join(root, e.path)), { recursive: true });
    await copyFile(e.file, join(root, e.path));
  }
  return root;
}

/** Write DIR/aptdemo.yaml: one service installing `pkg` from the upstream at `uri` (suite fixture), trusted by DIR/upstream.asc. */
export async function writeAptSpec(dir: string, uri: string, pkg = 'app', upstreamOptions = ''): Promise<string> {
  const spec = join(dir, 'aptdemo.yaml');
  await writeFile(
    spec,
    [
      'name: aptdemo',
      'version: 1.0.0',
      `epoch: ${EPOCH.toISOString()}`,
      'targets: { debian: { suite: bookworm, architectures: [amd64] } }',
      'upstreams:',
      '  apt:',
      `    - { uri: "${uri}", suites: [fixture], keyring: upstream.asc${upstreamOptions ? `, ${upstreamOptions}` : ''} }`,
      'services:',
      `  web: { version: "1", groups: [web], artifacts: { apt: [${pkg}] } }`,
      '',
    ].join('\n'),
  );
  return spec;
}
