import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ResolveError } from '../../src/errors.js';
import { buildPackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { resolveAptClosure } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { FIXTURE } from './fixturePackages.js';

// The fixture as a Packages text (what apt-ftparchive would write), so these unit tests need no dpkg-deb.
function packagesText(): string {
  return FIXTURE.map((d, i) =>
    [
      `Package: ${d.name}`,
      `Version: ${d.version}`,
      `Architecture: ${d.arch ?? 'amd64'}`,
      d.multiArch && `Multi-Arch: ${d.multiArch}`,
      d.essential && 'Essential: yes',
      `Priority: ${d.priority ?? 'optional'}`,
      d.preDepends && `Pre-Depends: ${d.preDepends}`,
      d.depends && `Depends: ${d.depends}`,
      d.recommends && `Recommends: ${d.recommends}`,
      d.provides && `Provides: ${d.provides}`,
      `Filename: pool/main/${d.name}_${d.version}.deb`,
      `Size: ${100 + i}`,
      `SHA256: ${String(i).padStart(64, '0')}`,
    ]
      .filter(Boolean)
      .join('\n') + '\n',
  ).join('\n');
}

async function index(text = packagesText()) {
  const pkgs: AptPackage[] = [];
  for await (const p of readPackagesIndex(Readable.from([text]), { uri: 'http://127.0.0.1/x', suite: 'test', component: 'main' }, 'fixture')) pkgs.push(p);
  return buildPackageIndex(pkgs, 'amd64');
}
const names = (ps: AptPackage[]) => ps.map((p) => `${p.name} ${p.version}`);
const none = { recommends: false, installed: new Map() };

describe('resolveAptClosure', () => {
  it('follows Pre-Depends, versioned Depends, alternatives, versioned Provides, :any and Architecture: all', async () => {
    const got = names(resolveAptClosure(await index(), ['app'], none));
    expect(got).toEqual([
      'app 1.0-1',
      'basefiles 12.4',
      'bighttpd 3.0', // httpd is virtual with two providers: the first by priority then name
      'libbar 2:0.5', // libbar | libbaz: the first alternative
      'libfoo 1.3-1', // >= 1.2: the highest version, not 1.1-1
      'newmail 1.0', // mail-api (>= 2): only the versioned Provides (= 2.1) qualifies
      'prelib 0.9',
      'pyish 3.11.2-1',
    ]);
  });

  it('adds Recommends only when asked', async () => {
    const idx = await index();
    expect(names(resolveAptClosure(idx, ['app'], none))).not.toContain('app-docs 1.0-1');
    expect(names(resolveAptClosure(idx, ['app'], { ...none, recommends: true }))).toContain('app-docs 1.0-1');
  });

  it('leaves out what the base already has', async () => {
    const got = names(resolveAptClosure(await index(), ['app'], { recommends: false, installed: new Map([['basefiles', { name: 'basefiles', version: '12.4', provides: [] }], ['prelib', { name: 'prelib', version: '0.9', provides: [] }]]) }));
    expect(got).not.toContain('basefiles 12.4');
    expect(got).not.toContain('prelib 0.9');
    expect(got).toContain('libbar 2:0.5');
  });

  it('satisfies an alternative with a package already chosen instead of adding the first one', async () => {
    const got = names(resolveAptClosure(await index(), ['tinyhttpd', 'app'], none));
    expect(got).toContain('tinyhttpd 1.0');
    expect(got).not.toContain('bighttpd 3.0');
  });

  it('pins a root to an exact version with name=version', async () => {
    expect(names(resolveAptClosure(await index(), ['libfoo=1.1-1'], none))).toEqual(['libfoo 1.1-1']);
  });

  it('names the chain that led to an unsatisfiable dependency', async () => {
    const idx = await index();
    expect(() => resolveAptClosure(idx, ['cli'], none)).toThrow(ResolveError);
    expect(() => resolveAptClosure(idx, ['cli'], none)).toThrow(
      'cannot satisfy "ghost (>= 3)" needed by cli 2.0 -> middle 2.0 -> leaf 2.0: no package named or providing ghost for amd64 in the configured sources',
    );
  });

  it('explains a version that is too old, with ~ sorting before the release', async () => {
    const idx = await index();
    expect(() => resolveAptClosure(idx, ['tool'], none)).toThrow(/helper 1\.0~rc1 .* does not satisfy helper \(>= 1\.0\)/);
  });

  it('refuses a package that is not there, and a virtual package with several providers', async () => {
    const idx = await index();
    expect(() => resolveAptClosure(idx, ['nothere'], none)).toThrow('package nothere is not in the configured sources for amd64');
    expect(() => resolveAptClosure(idx, ['httpd'], none)).toThrow('httpd is a virtual package provided by bighttpd, tinyhttpd: name one of them');
  });

  it('refuses :any on a package that is not Multi-Arch: allowed', async () => {
    const idx = await index(packagesText() + '\nPackage: needsany\nVersion: 1\nArchitecture: amd64\nDepends: libbaz:any\nFilename: x.deb\nSize: 1\nSHA256: ' + 'f'.repeat(64) + '\n');
    expect(() => resolveAptClosure(idx, ['needsany'], none)).toThrow(/libbaz 1\.0 is not Multi-Arch: allowed/);
  });
});

describe('resolveAptClosure with architecture-qualified roots', () => {
  it('resolves name:arch only for that architecture', async () => {
    const idx = await index();
    expect(names(resolveAptClosure(idx, ['libbaz:amd64', 'pyish:i386'], none))).toEqual(['libbaz 1.0']);
  });
});

describe('readPackagesIndex', () => {
  it('refuses entries it cannot verify or that point outside the repository', async () => {
    const entry = (extra: string) => `Package: x\nVersion: 1\nArchitecture: all\nSize: 1\n${extra}\n`;
    await expect(index(entry(`Filename: pool/x.deb`))).rejects.toThrow('fixture: package x 1 has no Filename, Size or SHA256');
    await expect(index(entry(`Filename: pool/../../etc/x.deb\nSHA256: ${'a'.repeat(64)}`))).rejects.toThrow('has Filename "pool/../../etc/x.deb" outside the repository');
  });
});

describe('versions dpkg rejects', () => {
  const stanza = (name: string, version: string, extra = '') => `Package: ${name}\nVersion: ${version}\nArchitecture: all\nFilename: pool/${name}.deb\nSize: 1\nSHA256: ${'a'.repeat(64)}\n${extra}`;

  it.each([
    ['1.4-', 'the revision (after the last "-") is empty'],
    ['10A:ZAZ0-1', 'the epoch "10A" is not a number'],
    ['a1.0', 'does not start with a digit'],
    ['1.0_beta', 'has a character dpkg does not allow'],
  ])('an index entry with version %s is an error naming the package', async (version, reason) => {
    const err = await index(stanza('oddpkg', version)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect((err as Error).message).toContain(`fixture: package oddpkg has version "${version}", which dpkg rejects (`);
    expect((err as Error).message).toContain(reason);
  });

  it('a dependency on an invalid version is an error naming the package that declares it', async () => {
    const idx = await index(stanza('user', '1', 'Depends: lib (>= 1.4-)\n') + '\n' + stanza('lib', '1.5'));
    expect(() => resolveAptClosure(idx, ['user'], none)).toThrow('user 1: its Depends names "lib (>= 1.4-)", a version dpkg rejects');
  });
});

describe('base packages with versions (apt_options.base)', () => {
  it('NAME=VERSION satisfies a dependency only when that version does; otherwise the upgrade is carried', async () => {
    const idx = await index();
    const { loadAptBase } = await import('../../src/sources/apt/loadAptBase.js');
    const old = await loadAptBase(idx, ['libfoo=1.1-1', 'basefiles'], '/');
    // app needs libfoo (>= 1.2): the hosts' 1.1-1 does not do, so 1.3-1 comes with its own closure (libbar)
    const got = names(resolveAptClosure(idx, ['app'], { recommends: false, installed: old }));
    expect(got).toContain('libfoo 1.3-1');
    expect(got).toContain('libbar 2:0.5');
    expect(got).not.toContain('basefiles 12.4');
    const current = await loadAptBase(idx, ['libfoo=1.3-1', 'libbar'], '/');
    const got2 = names(resolveAptClosure(idx, ['app'], { recommends: false, installed: current }));
    expect(got2).not.toContain('libfoo 1.3-1');
    expect(got2).not.toContain('libbar 2:0.5');
  });

  it('a base package satisfies a virtual dependency through its Provides', async () => {
    const idx = await index();
    const { loadAptBase } = await import('../../src/sources/apt/loadAptBase.js');
    const got = names(resolveAptClosure(idx, ['app'], { recommends: false, installed: await loadAptBase(idx, ['tinyhttpd', 'newmail'], '/') }));
    expect(got).not.toContain('bighttpd 3.0');
    expect(got).not.toContain('newmail 1.0');
  });

  it('refuses a base entry dpkg would not accept, or a name without a version the sources do not know', async () => {
    const idx = await index();
    const { loadAptBase } = await import('../../src/sources/apt/loadAptBase.js');
    await expect(loadAptBase(idx, ['libfoo=1.4-'], '/')).rejects.toThrow('upstreams.apt_options.base: libfoo=1.4-: "1.4-" is not a version dpkg accepts');
    await expect(loadAptBase(idx, ['ghost'], '/')).rejects.toThrow('ghost is not in the configured sources, so its version is unknown; write it as ghost=VERSION');
  });
});

describe('a requested package the hosts already have', () => {
  // apt-get install --install-recommends perl on a host with perl: "already the newest version", nothing
  // else installed (seen on Debian's index with base: required, where ferry carried perl's netbase)
  it('is carried, but its Recommends are not followed', async () => {
    const text = [
      'Package: tool\nVersion: 1\nArchitecture: amd64\nPriority: optional\nRecommends: extra-bits\nFilename: pool/tool.deb\nSize: 1\nSHA256: ' + '1'.repeat(64),
      'Package: extra-bits\nVersion: 1\nArchitecture: all\nPriority: optional\nFilename: pool/extra.deb\nSize: 1\nSHA256: ' + '2'.repeat(64),
      'Package: fresh\nVersion: 1\nArchitecture: amd64\nPriority: optional\nRecommends: extra-bits\nFilename: pool/fresh.deb\nSize: 1\nSHA256: ' + '3'.repeat(64),
    ].join('\n\n') + '\n';
    const ix = await index(text);
    const installed = new Map([['tool', { name: 'tool', version: '1', provides: [] }]]);
    expect(names(resolveAptClosure(ix, ['tool'], { recommends: true, installed }))).toEqual(['tool 1']);
    expect(names(resolveAptClosure(ix, ['fresh'], { recommends: true, installed }))).toEqual(['extra-bits 1', 'fresh 1']);
    expect(names(resolveAptClosure(ix, ['tool'], { recommends: true, installed: new Map() }))).toEqual(['extra-bits 1', 'tool 1']);
  });
});
