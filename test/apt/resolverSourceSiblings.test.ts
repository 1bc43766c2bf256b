import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackageIndex, type PackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { loadAptBase } from '../../src/sources/apt/loadAptBase.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { resolveAptClosure, type InstalledPackage } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { run } from '../helpers/cli.js';

// apt-get upgrades the hosts' other binaries of a source package along with the one it installs
// (APT::Get::Upgrade-By-Source-Package, on by default): ferry must carry them too, or the hosts that
// install the bundle offline miss packages apt-get asks for. Each case is resolved by ferry and by the real
// `apt-get install --simulate` against the same Packages file and dpkg status.
const pkg = (name: string, version: string, fields = '') =>
  `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\n${fields}Filename: pool/${name}_${version}_amd64.deb\nSize: 10\nSHA256: ${'0'.repeat(64)}\nDescription: x\n`;
const inst = (name: string, version: string, fields = '') => `Package: ${name}\nStatus: install ok installed\nVersion: ${version}\nArchitecture: amd64\n${fields}Maintainer: x\nDescription: x\n`;

const PACKAGES = [
  pkg('foo', '1.0-2', 'Depends: libfoo1 (>= 1.0)\n'),
  pkg('libfoo1', '1.0-2', 'Source: foo\n'),
  pkg('libfoo-dev', '1.0-2', 'Source: foo\n'), // not on the hosts: never added
  pkg('foo-utils', '1.0-3', 'Source: foo (1.0-3)\n'), // another source version: left
  pkg('libfoo2', '1.0-2+b1', 'Source: foo (1.0-2)\n'), // a binNMU of the same source version: follows
  pkg('libfoo-extra', '1.0-2', 'Source: foo\nDepends: newdep\n'), // follows, with its new dependency
  pkg('newdep', '1.0'),
  pkg('bar', '2.0', 'Depends: foo (>= 1.0-2)\n'), // foo as a dependency: its siblings follow too
  pkg('bar2', '1.0', 'Depends: newlib\n'),
  pkg('newlib', '1.0-2', 'Source: baz\n'),
  pkg('baz-common', '1.0-2', 'Source: baz\n'),
  pkg('baz-broken', '1.0-2', 'Source: baz\nDepends: missing\n'), // cannot be installed: left as it is
  pkg('qux', '2.0-1', 'Source: quxsrc\n'),
  pkg('qux-lib', '2.0-1', 'Source: quxsrc\n'),
  pkg('bar3', '1.0', 'Depends: qux\n'),
  pkg('bar4', '1.0', 'Depends: mid\n'),
  pkg('mid', '1.0', 'Depends: zed\n'),
  pkg('zed', '1.0-2', 'Source: zsrc\n'),
  pkg('zed-lib', '1.0-2', 'Source: zsrc\n'),
  pkg('bar5', '1.0', 'Depends: p1\n'),
  pkg('p1', '1.0-2', 'Source: psrc\n'),
  pkg('p1-lib', '1.0-2', 'Source: psrc\n'),
  pkg('bar6', '1.0', 'Depends: p1 (>= 1.0-2)\n'),
  pkg('bar7', '1.0', 'Recommends: zed\n'),
  pkg('lone', '1.0'),
].join('\n');

const STATUS = [
  inst('foo', '1.0-1', 'Depends: libfoo1\n'),
  inst('libfoo1', '1.0-1', 'Source: foo\n'),
  inst('foo-utils', '1.0-1', 'Source: foo\n'),
  inst('libfoo2', '1.0-1', 'Source: foo\n'),
  inst('libfoo-extra', '1.0-1', 'Source: foo\n'),
  inst('baz-common', '1.0-1', 'Source: baz\n'),
  inst('baz-broken', '1.0-1', 'Source: baz\n'),
  inst('qux', '2.0-1', 'Source: quxsrc\n'),
  inst('qux-lib', '1.0-1', 'Source: quxsrc\n'),
  inst('mid', '1.0', 'Depends: zed\n'),
  inst('zed', '1.0-2', 'Source: zsrc\n'),
  inst('zed-lib', '1.0-1', 'Source: zsrc\n'),
  inst('p1', '1.0-1', 'Source: psrc\n'),
  inst('p1-lib', '1.0-1', 'Source: psrc\n'),
].join('\n');

let dir: string;
let index: PackageIndex;
let installed: Map<string, InstalledPackage>;
let simulate: (pkgs: string[], extra?: string[]) => Promise<string[]>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-apt-siblings-'));
  await mkdir(join(dir, 'repo'));
  await writeFile(join(dir, 'repo/Packages'), PACKAGES);
  await writeFile(join(dir, 'status'), STATUS);
  for (const d of ['etc/apt/sources.list.d', 'etc/apt/preferences.d', 'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/log/apt']) await mkdir(join(dir, 'root', d), { recursive: true });
  await writeFile(join(dir, 'root/etc/apt/sources.list'), `deb [trusted=yes] file:${dir}/repo ./\n`);
  await writeFile(join(dir, 'apt.conf'), '');
  const opts = ['-q', '-o', `Dir=${dir}/root/`, '-o', `Dir::State::status=${dir}/status`, '-o', 'Debug::NoLocking=1', '-o', 'APT::Architecture=amd64', '-o', 'APT::Architectures::=amd64', '-o', 'Acquire::Languages=none'];
  const env = { APT_CONFIG: join(dir, 'apt.conf'), LC_ALL: 'C' };
  const updated = await run('apt-get', [...opts, 'update'], { env });
  expect(updated.code, updated.stderr).toBe(0);
  simulate = async (pkgs, extra = []) => {
    const r = await run('apt-get', [...opts, 'install', '--simulate', '--no-install-recommends', ...extra, ...pkgs], { env });
    expect(r.code, r.stderr).toBe(0);
    // new installs `Inst NAME (VERSION …)`, upgrades `Inst NAME [OLD] (VERSION …)`
    return [...r.stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
  };
  const all: AptPackage[] = [];
  for await (const p of readPackagesIndex(createReadStream(join(dir, 'repo/Packages')), { uri: `file:${dir}/repo`, suite: './', component: '' }, 'Packages')) all.push(p);
  index = buildPackageIndex(all, 'amd64');
  installed = await loadAptBase(index, { status: 'status' }, dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** ferry's closure as apt-get prints it: a requested package the hosts already have at that version is not installed again */
const ferry = (roots: string[]) =>
  resolveAptClosure(index, roots, { recommends: false, installed })
    .filter((p) => installed.get(p.name)?.version !== p.version)
    .map((p) => `${p.name} ${p.version}`)
    .sort();

describe('the hosts\' other binaries of a source package follow it, as apt-get upgrades them', () => {
  it.each([
    ['a requested upgrade brings its installed siblings of the same source version, a binNMU one and the dependencies of one', ['foo']],
    ['so does the same package reached as a dependency', ['bar']],
    ['and a package of the source the hosts do not have yet', ['libfoo-dev']],
    ['a new package reached as a dependency; a sibling that cannot be installed stays as it is', ['bar2']],
    ['a requested package already at its newest version still brings its siblings', ['qux']],
    ['an installed dependency at its candidate version is followed', ['bar3']],
    ['through installed packages at their candidate versions, recursively', ['bar4']],
    ['an installed dependency kept older than its candidate is not followed', ['bar5']],
    ['but once upgraded, its siblings follow', ['bar6']],
    ['a Recommends the hosts satisfy is not followed', ['bar7']],
    ['a package of no source the hosts have brings nothing more', ['lone']],
    ['several roots at once', ['bar2', 'bar5', 'lone']],
  ])('%s (%j)', async (_label, roots) => {
    expect(ferry(roots)).toEqual(await simulate(roots));
  });

  it('the cases above do differ from apt-get with the option off (the test can tell them apart)', async () => {
    expect(await simulate(['foo'], ['-o', 'APT::Get::Upgrade-By-Source-Package=false'])).toEqual(['foo 1.0-2']);
    expect(ferry(['foo'])).toEqual(['foo 1.0-2', 'libfoo-extra 1.0-2', 'libfoo1 1.0-2', 'libfoo2 1.0-2+b1', 'newdep 1.0']);
  });
});
