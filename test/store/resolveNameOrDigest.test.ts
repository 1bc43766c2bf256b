import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRelease } from '../../src/store/resolveRelease.js';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from '../deploy/storeFixture.js';

const release = (name: string, version: string) => ({ name, version, epoch: '2026-11-25T00:00:00.000Z', services: { web: { version, groups: ['web'], files: { 'a.txt': `${name} ${version}\n` } } } });

/**
 * A release name made of 8+ hex digits is also a digest prefix. A signing policy trusts keys per release name:
 * the release of another name whose digest starts with those digits (32 bits to grind for 8 of them) must not
 * be what `ferry deploy NAME`, `gc --protect NAME`, `extract`, `plan` ... take for NAME.
 */
describe('a release name that is also the start of another release\'s digest', () => {
  let dir: string;
  let store: string;
  let other: string;
  let name: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-name-or-digest-'));
    store = join(dir, 'store');
    other = writeRelease(store, release('site-mirror', '1'));
    name = other.slice(0, 8);
    writeRelease(store, release(name, '1'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is refused as ambiguous, naming both, rather than resolved to the other name\'s release', async () => {
    await expect(resolveRelease(store, name)).rejects.toThrow(new RegExp(`^${name} is the release name ${name} and the start of the digest of site-mirror 1 \\(${other}\\): give NAME@VERSION or more digits of the digest$`));
    // either spelled without doubt resolves
    expect((await resolveRelease(store, `${name}@1`)).name).toBe(name);
    expect((await resolveRelease(store, other.slice(0, 12))).name).toBe('site-mirror');
  });

  it('gc --protect NAME refuses (one line, exit 71) rather than protect another name\'s release', async () => {
    const r = await ferry(['gc', '--store', store, '--keep', '1', '--protect', name, '--dry-run']);
    expect(r.code, r.stderr).toBe(71);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(`${name} is the release name ${name} and the start of the digest of site-mirror 1`)]);
  });
});
