import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { aptMirrorSpec } from './mirrorChecks.js';
import { buildDeb, readPrivate, serveDir, signRelease, writeUpstream } from '../apt/fixtureUpstream.js';

/**
 * A snapshot archive (an upstream frozen at a date, as release managers pin one) keeps the Release it had,
 * Valid-Until long past: a mirror of it is refused (66) unless the spec says check_valid_until: false,
 * apt's check-valid-until=no for such archives.
 */
describe('apt mirror of a snapshot archive whose Release is past its Valid-Until', () => {
  let dir: string;
  let upstream: Awaited<ReturnType<typeof serveDir>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-snapshot-${process.pid}-`));
    const key = await writeKey(dir, 'upstream');
    const root = join(dir, 'upstream');
    const secret = await readPrivate(key.secretArmored);
    await writeUpstream(root, [await buildDeb(dir, { name: 'app', version: '1.0' })], { suite: 'fixture', key: secret });
    const dist = join(root, 'dists/fixture');
    const release = await readFile(join(dist, 'Release'), 'utf8');
    await signRelease(dist, release.replace(/^(Date: .*)$/m, '$1\nValid-Until: Sat, 01 Jan 2000 00:00:00 UTC'), secret);
    upstream = await serveDir(root);
  });
  afterAll(() => upstream?.close());

  const lock = async (option: string) => {
    const spec = aptMirrorSpec('1.0.0', upstream.url, '{ packages: [app] }').replace('      suites: [fixture]', `      suites: [fixture]${option ? `\n      ${option}` : ''}`);
    const sub = await mkdtemp(join(dir, 'case-'));
    await writeFile(join(sub, 'upstream.asc'), await readFile(join(dir, 'upstream.asc'), 'utf8'));
    await writeFile(join(sub, 'mirror.yaml'), spec);
    const r = await ferry(['lock', join(sub, 'mirror.yaml'), '--cache', join(sub, 'cache')]);
    return { ...r, written: (await readdir(sub)).filter((f) => !['upstream.asc', 'mirror.yaml', 'cache'].includes(f)) };
  };

  it('is refused (66, one line, no lock) by default and with check_valid_until: true', async () => {
    for (const option of ['', 'check_valid_until: true']) {
      const r = await lock(option);
      expect(r.code, r.stderr).toBe(66);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^ferry: .*dists\/fixture\/: the Release expired on Sat, 01 Jan 2000 00:00:00 UTC \(Valid-Until\)/);
      expect(r.written).toEqual([]);
    }
  });

  it('is locked with check_valid_until: false', async () => {
    const r = await lock('check_valid_until: false');
    expect(r.code, r.stderr).toBe(0);
    expect(r.written).toEqual(['mirror.lock.json']);
  });
});
