import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ResolveError } from '../../src/errors.js';
import { buildPackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { resolveAptClosure } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { run } from '../helpers/cli.js';
import { privateApt } from './privateApt.js';
import { simulatedInstalls } from './suitesFixture.js';

/**
 * Relation fields written oddly, as apt's parser reads them: an index with one that apt cannot parse
 * ("Problem parsing dependency") is refused by apt-get update, and by ferry when it reads it; one apt reads
 * its own way (no operator means =, a qualifier as written, package names lower-cased but not relation
 * names) installs or fails alike. Each case is a one-package request `p` on an archive of p, a (Multi-Arch:
 * allowed), b and Mixed_Case.
 */
const UNPARSABLE = [
  'Depends: a b',
  'Depends: a (>= 1) b',
  'Depends: a [amd64]',
  'Depends: a <!nocheck>',
  'Depends: a (>= 1.0',
  'Depends: a (>= )',
  'Depends: a,, b',
  'Depends: a | , b',
  'Depends: |a',
  'Depends: a (<= 1) (>= 0)',
  'Depends: a (1)', // apt wants four characters after "(" before the field ends
  'Pre-Depends: a [amd64]',
  'Recommends: a [amd64]',
  'Conflicts: a [amd64]',
  'Breaks: a b',
  'Suggests: a [amd64]',
  'Replaces: a [i386]',
  'Enhances: a b',
  'Provides: a b',
];
const READ_AS_APT = [
  'Depends: a (1.0)', // = 1.0, which a 1 is not
  'Depends: a (1), b',
  'Depends: a:',
  'Depends: a:Any',
  'Depends: a:any:any',
  'Depends: a:any',
  'Depends: Mixed_Case',
  'Depends: mixed_case',
  'Depends: a ( = 1 ), b,',
  'Depends: a(>=1)',
  'Conflicts: b:any',
  'Provides: b:any\nConflicts: b',
  // a trailing "|" joins the next field's first group in apt's list (Pre-Depends, Depends, Conflicts, Breaks,
  // Recommends, Suggests, Replaces, Enhances), as an alternative of the dangling field's kind
  'Depends: ghost |\nRecommends: a',
  'Depends: ghost |\nSuggests: a',
  'Pre-Depends: ghost |\nDepends: a, ghost2',
  'Depends: ghost |\nRecommends: ghost2 |\nSuggests: a',
  'Depends: ghost |\nReplaces: b, ghost2',
  // a name followed by "|" in Provides carries apt's or-flag, so is no "=" Provides ("Ignoring non-equal Provides")
  'Provides: ghost | ghost2\nDepends: ghost',
  'Provides: ghost | ghost2\nDepends: ghost2',
  'Provides: ghost2 |\nDepends: ghost2',
];
/** a last relation field ending with "|": apt-get update takes the index, then apt-get crashes on any install from it */
const CRASHING = ['Depends: a |', 'Depends: a | b |', 'Recommends: a |', 'Enhances: a (>= 1) |', 'Depends: a |\nProvides: b'];
/** a trailing "|" that joins a Conflicts or Breaks: a group apt evaluates its own way (and dpkg rejects) */
const MIXED = ['Depends: ghost |\nConflicts: a', 'Depends: a |\nBreaks: b', 'Conflicts: a |\nRecommends: b'];

const stanza = (name: string, extra = '') => `Package: ${name}\nVersion: 1\nArchitecture: amd64\nMaintainer: T <t@example.invalid>\nPriority: optional\n${extra}Description: x\n`;

describe('relation fields as apt reads them', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  /** an archive with p (`field`), a, b and Mixed_Case: apt-get update and install p, and ferry's reading and closure of p */
  const both = async (field: string) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-apt-relsyntax-'));
    dirs.push(dir);
    const bin = join(dir, 'dists/s/main/binary-amd64');
    await mkdir(bin, { recursive: true });
    const stanzas = [stanza('p', `${field}\n`), stanza('a', 'Multi-Arch: allowed\n'), stanza('b'), stanza('Mixed_Case')];
    await writeFile(join(bin, 'Packages'), stanzas.map((t, i) => t.replace(/^Description/m, `Filename: pool/${i}.deb\nSize: 1\nSHA256: ${'0'.repeat(64)}\nDescription`)).join('\n'));
    const release = await run('apt-ftparchive', ['-o', 'APT::FTPArchive::Release::Suite=s', '-o', 'APT::FTPArchive::Release::Architectures=amd64', '-o', 'APT::FTPArchive::Release::Components=main', 'release', join(dir, 'dists/s')]);
    expect(release.code, release.stderr).toBe(0);
    await writeFile(join(dir, 'dists/s/Release'), release.stdout);
    const apt = await privateApt(`deb [trusted=yes] file:${dir} s main`);
    dirs.push(apt.root);
    const update = await apt.aptGet('update');
    const sim = await apt.aptGet('install', '--simulate', '--no-install-recommends', 'p');
    const ferry = async () => {
      const packages: AptPackage[] = [];
      for await (const p of readPackagesIndex(createReadStream(join(bin, 'Packages')), { uri: `file:${dir}`, suite: 's', component: 'main' }, 'Packages')) packages.push(p);
      return resolveAptClosure(buildPackageIndex(packages, 'amd64'), ['p'], { recommends: false, installed: new Map() }).map((p) => `${p.name} ${p.version}`).sort();
    };
    return { update: update.stdout + update.stderr, sim, ferry };
  };

  it.each(UNPARSABLE)('%j: apt-get update refuses the index, so does ferry (one line)', async (field) => {
    const r = await both(field);
    expect(r.update).toMatch(/^E: Problem parsing (dependency \d+|Provides line) of p:amd64=1$/m);
    const err = await r.ferry().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect((err as Error).message).toMatch(/^Packages: package p 1 has a \S+ field apt cannot parse \([^\n]*\); refusing this index, as apt does$/);
  });

  it.each(CRASHING)('%j: apt-get crashes on an install from the index, and ferry refuses the index (one line)', async (field) => {
    const r = await both(field);
    expect(r.update).not.toMatch(/^E: /m);
    // killed by SIGSEGV (the run helper gives no exit code for a signal), whatever it is asked to install
    expect(r.sim.code).toBe(-1);
    const err = await r.ferry().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect((err as Error).message).toMatch(/^Packages: package p 1: its \S+ ends with "\|" and no relation follows it in apt's order of the fields, on which apt-get crashes \(segfault\) whatever it installs; refusing this index$/);
  });

  it.each(MIXED)('%j: ferry refuses the index, one line', async (field) => {
    const r = await both(field);
    expect(r.update).not.toMatch(/^E: /m);
    const err = await r.ferry().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect((err as Error).message).toMatch(/^Packages: package p 1: its \S+ ends with "\|", which apt joins to the first relation of its \S+ \([^\n]*\); refusing this index$/);
  });

  it.each(READ_AS_APT)('%j: apt-get reads it, and ferry installs what apt-get installs or refuses as it does', async (field) => {
    const r = await both(field);
    expect(r.update).not.toMatch(/^E: /m);
    if (r.sim.code !== 0) {
      expect(r.sim.stdout + r.sim.stderr).toMatch(/but it is not (installable|going to be installed)|E: Unable to correct problems/);
      await expect(r.ferry()).rejects.toThrow(ResolveError);
    } else {
      expect(await r.ferry()).toEqual(simulatedInstalls(r.sim.stdout));
    }
  });
});
