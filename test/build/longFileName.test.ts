import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';

/**
 * A spec's file name may hold folders, each segment checked on its own (at most 255 bytes); a name of many
 * such segments made a bundle path over 4096 characters, which the build refused only as it wrote
 * manifest.json ("manifest.json does not match format ferry-bundle/1: … entries[0].path"), naming no
 * field of the spec. It is refused with the spec: the field named, exit 65, one line, nothing written.
 */
describe('a file name longer than a bundle path may be', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-long-file-name-'));
    key = await writeKey(dir, 'team');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lock and build refuse it with the spec field that names it: exit 65, one line, no lock, no bundle', async () => {
    const d = join(dir, 'spec');
    await mkdir(d);
    await writeFile(join(d, 'f.txt'), 'x\n');
    const long = Array.from({ length: 20 }, () => 'a'.repeat(250)).join('/');
    await writeFile(join(d, 'spec.yaml'), stringify({ name: 'long', version: '1.0.0', epoch: '2026-11-25T00:00:00Z', services: { web: { version: '1', groups: ['web'], artifacts: { files: [{ src: 'f.txt', name: long }] } } } }));
    for (const args of [['lock', join(d, 'spec.yaml'), '--cache', join(dir, 'cache')], ['build', join(d, 'spec.yaml'), '--key', key.secret, '--out', join(d, 'out'), '--cache', join(dir, 'cache')]]) {
      const r = await ferry(args);
      expect(r.code, r.stderr).toBe(65);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/^ferry: .*services\.web\.artifacts\.files\[0\]\.name: the bundle cannot carry a file at 5029 characters \(files\/web\/…\): .*at most 4096 characters in all; choose a shorter name$/m);
    }
    expect((await readdir(d)).sort()).toEqual(['f.txt', 'spec.yaml']);
    expect(existsSync(join(d, 'out'))).toBe(false);
  });
});
