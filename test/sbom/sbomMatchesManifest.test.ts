import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { PackageURL } from 'packageurl-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { craftSbomBundle } from '../helpers/craftSbomBundle.js';
import type { CdxBom, CdxComponent } from '../../src/sbom/cycloneDx.js';
import type { SbomComponent } from '../../src/sbom/sbomComponent.js';
import type { Manifest } from '../../src/bundle/manifest.js';

const debPurl = (name: string, version: string, distro?: string) => new PackageURL('deb', 'debian', name, version, { arch: 'amd64', ...(distro && { distro }) }, undefined).toString();
const deb = (name: string, version: string): SbomComponent => ({
  ref: debPurl(name, version),
  type: 'library',
  name,
  version,
  purl: debPurl(name, version),
  path: `apt/pool/${name}.deb`,
  services: [],
  properties: [
    { name: 'ferry:deb:source', value: name },
    { name: 'ferry:deb:source-version', value: version },
  ],
});
const COMPONENTS = [deb('openssl', '1:3.0.11-1~deb12u2'), deb('curl', '7.88.1-10+deb12u5'), { ref: 'files/app/app.conf', type: 'file' as const, name: 'files/app/app.conf', path: 'files/app/app.conf', services: [] }];
const openssl = (bom: CdxBom) => bom.components.find((c) => c.name === 'openssl')!;

/**
 * The signature covers the SBOM and the manifest, but nothing tied one to the other: a signer could ship
 * one openssl and list a fixed one, and `ferry audit` reported the bundle clean (and `ferry sbom` printed
 * the listing as the bundle's). Every way the two can disagree is refused with one line (68), from a
 * bundle file and from the store, and nothing is printed.
 */
describe('ferry sbom and ferry audit refuse an SBOM that does not describe what the manifest carries', () => {
  let dir: string;
  let key: openpgp.PrivateKey;
  let keyring: string;
  let db: string;
  const bundleOf = async (name: string, o: Partial<Parameters<typeof craftSbomBundle>[1]> = {}) => {
    const file = join(dir, `${name}.ferry`);
    await writeFile(file, await craftSbomBundle(key, { name: 'matchapp', components: COMPONENTS, ...o }));
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-sbom-matches-'));
    const team = await writeKey(dir, 'team');
    key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    keyring = team.public;
    db = join(dir, 'osv.json');
    await writeFile(db, JSON.stringify([{ id: 'DSA-1', affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:3.0.11-1~deb12u3' }] }] }] }]));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('an SBOM that does describe the manifest is printed and audited (the control)', async () => {
    const file = await bundleOf('control');
    const s = await ferry(['sbom', file, '--keyring', keyring]);
    expect(s.code, s.stderr).toBe(0);
    const a = await ferry(['audit', file, '--keyring', keyring, '--db', db, '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout).findings.map((f: { package: string }) => f.package)).toEqual(['openssl']);
  });

  it('an SBOM whose .debs carry distro= of the manifest\'s apt suite (as a build now writes it) is printed and audited; one without, as older builds wrote it, too', async () => {
    const withDistro = COMPONENTS.map((c) => (c.purl?.startsWith('pkg:deb/') ? { ...c, ref: debPurl(c.name, c.version!, 'bookworm'), purl: debPurl(c.name, c.version!, 'bookworm') } : c));
    const file = await bundleOf('distro', { components: withDistro });
    const s = await ferry(['sbom', file, '--keyring', keyring]);
    expect(s.code, s.stderr).toBe(0);
    expect((JSON.parse(s.stdout) as CdxBom).components.flatMap((c) => (c.purl ? [c.purl] : []))).toEqual([
      'pkg:deb/debian/curl@7.88.1-10+deb12u5?arch=amd64&distro=bookworm',
      'pkg:deb/debian/openssl@1:3.0.11-1~deb12u2?arch=amd64&distro=bookworm',
    ]);
    for (const bundle of [file, await bundleOf('no-distro')]) {
      const a = await ferry(['audit', bundle, '--keyring', keyring, '--db', db, '--json']);
      expect(a.code, a.stderr).toBe(0);
      expect(JSON.parse(a.stdout).findings.map((f: { package: string; version: string }) => `${f.package} ${f.version}`)).toEqual(['openssl 1:3.0.11-1~deb12u2']);
    }
  });

  it('a mirror .deb with the purl of an apt repository .deb and other bytes is a component of its own (the build merged the two)', async () => {
    const file = await bundleOf('mirror-twin', { components: [...COMPONENTS, { ...deb('openssl', '1:3.0.11-1~deb12u2'), path: 'mirrors/debian/debian/pool/openssl.deb' }] });
    const r = await ferry(['sbom', file, '--keyring', keyring]);
    expect(r.code, r.stderr).toBe(0);
    const listed = (JSON.parse(r.stdout) as CdxBom).components.filter((c) => c.name === 'openssl');
    expect(listed.map((c) => [c['bom-ref'], c.properties!.find((p) => p.name === 'ferry:path')!.value])).toEqual([
      ['mirrors/debian/debian/pool/openssl.deb', 'mirrors/debian/debian/pool/openssl.deb'],
      [debPurl('openssl', '1:3.0.11-1~deb12u2'), 'apt/pool/openssl.deb'],
    ]);
  });

  it('a mirror .deb carries as distro= the Codename of its suite (the manifest\'s codenames, else the suite\'s name), or none as older builds wrote it; another is refused (exit 68, one line)', async () => {
    const version = '1:3.0.11-1~deb12u2';
    const mirrorDeb = (distro?: string): SbomComponent => ({ ...deb('openssl', version), ref: debPurl('openssl', version, distro), purl: debPurl('openssl', version, distro), path: 'mirrors/debian/debian/pool/openssl.deb' });
    // the mirror's suite fixture, whose Release gives Codename bookworm
    const editManifest = (m: Manifest) => {
      const mirror = (m.artifacts as { mirror: { apt: { debian: { suites: string[]; codenames?: Record<string, string>; packages: Array<{ suite?: string }> } } } }).mirror.apt.debian;
      mirror.suites = ['fixture'];
      mirror.codenames = { fixture: 'bookworm' };
      for (const p of mirror.packages) p.suite = 'fixture';
    };
    for (const distro of ['bookworm', undefined]) {
      const file = await bundleOf(`mirror-distro-${distro ?? 'none'}`, { components: [...COMPONENTS, mirrorDeb(distro)], editManifest });
      const r = await ferry(['sbom', file, '--keyring', keyring]);
      expect(r.code, r.stderr).toBe(0);
    }
    for (const distro of ['bullseye', 'fixture']) {
      const file = await bundleOf(`mirror-distro-${distro}`, { components: [...COMPONENTS, mirrorDeb(distro)], editManifest });
      const r = await ferry(['sbom', file, '--keyring', keyring]);
      expect(r.code, r.stderr).toBe(68);
      expect(r.stderr).toMatch(new RegExp(`^ferry: [^\\n]*: the SBOM does not describe what the manifest carries: component "pkg:deb/debian/openssl@1:3\\.0\\.11-1~deb12u2\\?arch=amd64&distro=${distro}" \\(mirrors/debian/debian/pool/openssl\\.deb\\) is not a package of mirror debian; [^\\n]*\\n$`));
      expect(r.stdout).toBe('');
    }
  });

  const raiseOpenssl = (bom: CdxBom) => {
    const c = openssl(bom);
    c.version = '1:3.0.11-1~deb12u3';
    c.purl = debPurl('openssl', c.version);
  };
  it.each<[string, (bom: CdxBom) => void, RegExp]>([
    ['a .deb listed at a fixed version while the manifest carries the vulnerable one', raiseOpenssl, /\(apt\/pool\/openssl\.deb\) is pkg:deb\/debian\/openssl@1:3\.0\.11-1~deb12u3\?arch=amd64, not a package the manifest's apt section lists/],
    ['a component whose sha256 is not its entry\'s', (bom) => void (openssl(bom).hashes = [{ alg: 'SHA-256', content: '0'.repeat(64) }]), /has sha256 0{64}, the manifest lists [0-9a-f]{64}/],
    [
      'a component at a path the manifest does not carry',
      (bom) => void bom.components.push({ ...structuredClone(openssl(bom)), 'bom-ref': 'ghost', properties: [{ name: 'ferry:path', value: 'apt/pool/ghost.deb' }] } as CdxComponent),
      /names apt\/pool\/ghost\.deb, which is not an entry of the manifest/,
    ],
    ['a component without a bundle path', (bom) => void bom.components.push({ type: 'library', 'bom-ref': 'loose', name: 'openssl', version: '9', purl: debPurl('openssl', '9') }), /component "loose" names no bundle path/],
    ['a carried .deb with no component', (bom) => void (bom.components = bom.components.filter((c) => c.name !== 'curl')), /apt\/pool\/curl\.deb \(apt\) has no component/],
    [
      'a carried .deb listed as another package of the bundle (curl hidden behind a second openssl)',
      (bom) => void Object.assign(bom.components.find((c) => c.name === 'curl')!, { 'bom-ref': 'hidden', name: 'openssl', version: openssl(bom).version, purl: openssl(bom).purl }),
      /pkg:deb\/debian\/openssl@1:3\.0\.11-1~deb12u2\?arch=amd64 is listed twice under apt\//,
    ],
    [
      'a .deb listed for another Debian release than the suite the manifest publishes it in',
      (bom) => void (openssl(bom).purl = debPurl('openssl', openssl(bom).version!, 'bullseye')),
      /\(apt\/pool\/openssl\.deb\) is pkg:deb\/debian\/openssl@1:3\.0\.11-1~deb12u2\?arch=amd64&distro=bullseye, not a package the manifest's apt section lists/,
    ],
    [
      'a carried .deb hidden behind the same package once with distro= and once without',
      (bom) => {
        openssl(bom).purl = debPurl('openssl', openssl(bom).version!, 'bookworm');
        Object.assign(bom.components.find((c) => c.name === 'curl')!, { 'bom-ref': 'hidden', name: 'openssl', version: openssl(bom).version, purl: debPurl('openssl', openssl(bom).version!) });
      },
      /pkg:deb\/debian\/openssl@1:3\.0\.11-1~deb12u2\?arch=amd64(&distro=bookworm)? is listed twice under apt\//,
    ],
    ['a version that is not its purl\'s', (bom) => void (openssl(bom).version = '1:3.0.11-1~deb12u3'), /is openssl 1:3\.0\.11-1~deb12u3, its purl pkg:deb/],
    ['another release', (bom) => void (bom.metadata.component.name = 'other'), /it describes other 1\.0\.0, the manifest matchapp 1\.0\.0/],
    ['a bom-ref listed twice', (bom) => void (bom.components[1]!['bom-ref'] = bom.components[0]!['bom-ref']), /bom-ref ".*" is listed twice/],
  ])('%s: exit 68, one line, nothing printed, by sbom and audit', async (name, editSbom, reason) => {
    const file = await bundleOf(name.replace(/\W+/g, '-'), { editSbom });
    for (const args of [['sbom', file, '--keyring', keyring], ['sbom', file, '--keyring', keyring, '--format', 'spdx'], ['audit', file, '--keyring', keyring, '--db', db]]) {
      const r = await ferry(args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(68);
      expect(r.stderr).toMatch(/^ferry: [^\n]*: the SBOM does not describe what the manifest carries: [^\n]*\n$/);
      expect(r.stderr).toMatch(reason);
      expect(r.stdout).toBe('');
    }
  });

  // the manifest's kind of an entry is the signer's word too: what hosts install (a .deb an apt index can name, a
  // file of pip's --find-links folder, a mirror's .deb outside its pool) needs a component whatever kind it is given
  it.each<[string, string, Manifest['entries'][number]['kind'], SbomComponent | undefined]>([
    ['a carried .deb given the kind of an apt index', 'apt/pool/curl.deb', 'apt-index', undefined],
    ['a carried .deb given the kind of the bundle key', 'apt/pool/curl.deb', 'key', undefined],
    ['a wheel of pip\'s --find-links folder given the kind of a Python index page', 'python/files/evil-1.0-py3-none-any.whl', 'python-index', { ref: 'w', type: 'library', name: 'evil', version: '1.0', path: 'python/files/evil-1.0-py3-none-any.whl', services: [] }],
    ['a mirror .deb outside its pool', 'mirrors/debian/debian/extra/curl.deb', 'mirror', { ...deb('curl', '7.88.1-10+deb12u5'), path: 'mirrors/debian/debian/extra/curl.deb' }],
  ])('%s and left out of the SBOM: exit 68, one line, by sbom and audit', async (name, path, kind, extra) => {
    const file = await bundleOf(name.replace(/\W+/g, '-'), {
      components: extra ? [...COMPONENTS, extra] : COMPONENTS,
      editSbom: (bom) => void (bom.components = bom.components.filter((c) => c.properties?.find((p) => p.name === 'ferry:path')?.value !== path)),
      editManifest: (m) => void (m.entries.find((e) => e.path === path)!.kind = kind),
    });
    for (const args of [['sbom', file, '--keyring', keyring], ['audit', file, '--keyring', keyring, '--db', db]]) {
      const r = await ferry(args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(68);
      expect(r.stderr).toMatch(/^ferry: [^\n]*: the SBOM does not describe what the manifest carries: [^\n]*\n$/);
      expect(r.stderr).toContain(`${path} (${kind}) has no component`);
      expect(r.stdout).toBe('');
    }
  });

  it('a release imported with such an SBOM is refused from the store too', async () => {
    const store = join(dir, 'store');
    const file = await bundleOf('stored', { editSbom: raiseOpenssl });
    const i = await ferry(['import', file, '--keyring', keyring, '--store', store]);
    expect(i.code, i.stderr).toBe(0);
    for (const args of [['sbom', 'matchapp/1.0.0', '--store', store], ['audit', 'matchapp@1.0.0', '--store', store, '--db', db, '--fail-on', 'low']]) {
      const r = await ferry(args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(68);
      expect(r.stderr).toMatch(/^ferry: release matchapp\/1\.0\.0 \([0-9a-f]{64}\): the SBOM does not describe what the manifest carries: [^\n]*\n$/);
      expect(r.stdout).toBe('');
    }
  });

  it('a stored SBOM replaced by a FIFO, a link or other bytes is refused in one line, not read (a FIFO held sbom and audit for good)', async () => {
    const store = join(dir, 'store-fifo');
    const file = await bundleOf('fifo');
    const i = await ferry(['import', file, '--keyring', keyring, '--store', store, '--json']);
    expect(i.code, i.stderr).toBe(0);
    const sbom = join(store, 'bundles', (JSON.parse(i.stdout) as { digest: string }).digest, 'sbom.cdx.json');
    const kept = await readFile(sbom);
    const cases: Array<[string, () => Promise<unknown>, number, RegExp]> = [
      ['fifo', async () => expect((await run('mkfifo', [sbom])).code).toBe(0), 71, /is not a regular file/],
      ['link', () => run('ln', ['-s', join(dir, 'elsewhere.json'), sbom]), 71, /is a symbolic link/],
      ['longer', () => writeFile(sbom, Buffer.concat([kept, Buffer.from(' ')])), 67, /has \d+ bytes, but the manifest lists/],
    ];
    await writeFile(join(dir, 'elsewhere.json'), kept);
    for (const [what, make, code, message] of cases) {
      await rm(sbom, { force: true });
      await make();
      for (const args of [['sbom', 'matchapp/1.0.0', '--store', store], ['audit', 'matchapp@1.0.0', '--store', store, '--db', db]]) {
        const r = await ferry(args);
        expect([what, args[0], r.code, r.stdout], r.stderr).toEqual([what, args[0], code, '']);
        expect(r.stderr).toMatch(/^ferry: [^\n]*\n$/);
        expect(r.stderr).toMatch(message);
      }
    }
  });
});
