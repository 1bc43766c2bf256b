import { mkdtemp, mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { craftSbomBundle } from '../helpers/craftSbomBundle.js';
import { writeKey } from '../helpers/keys.js';
import { PackageURL } from 'packageurl-js';
import type { SbomComponent } from '../../src/sbom/sbomComponent.js';
import type { Manifest } from '../../src/bundle/manifest.js';

let dir: string;
let bundle: string;
let keyring: string;
let osvZip: string;
let pypiJson: string;
let tracker: string;

const osvDebian = (id: string, name: string, fixed: string) => ({ id, aliases: [`CVE-${id}`], affected: [{ package: { ecosystem: 'Debian:12', name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] }] });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-vulns-'));
  const key = await writeKey(dir, 'team');
  const deb = (name: string, version: string, source: string, sourceVersion = version): SbomComponent => ({
    ref: `pkg:deb/debian/${name}@${version}?arch=amd64`,
    type: 'library',
    name,
    version,
    purl: new PackageURL('deb', 'debian', name, version, { arch: 'amd64' }, undefined).toString(),
    path: `apt/pool/${name}.deb`,
    services: [],
    properties: [
      { name: 'ferry:deb:source', value: source },
      { name: 'ferry:deb:source-version', value: sourceVersion },
    ],
  });
  const wheel = (name: string, version: string): SbomComponent => ({ ref: `pkg:pypi/${name.toLowerCase()}@${version}`, type: 'library', name, version, purl: new PackageURL('pypi', undefined, name, version, undefined, undefined).toString(), path: `python/files/${name}-${version}.whl`, services: [] });
  // what the build writes into sbom.cdx.json (and the manifest carries): the apt repository's .debs, the
  // wheels, and a rootfs with the Debian packages installed in it (an older libssl3, built from the source openssl)
  const secret = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
  bundle = join(dir, 'vulnapp-1.0.0.ferry');
  await writeFile(
    bundle,
    await craftSbomBundle(secret, {
      name: 'vulnapp',
      components: [
        // epoch 1 and a tilde in the Debian revision, as in a stable security update
        deb('openssl', '1:3.0.11-1~deb12u2', 'openssl'),
        deb('curl', '7.88.1-10+deb12u5', 'curl'),
        wheel('Jinja2', '3.1.2'),
        wheel('requests', '2.32.0'),
        { ref: 'rootfs/base.tar.gz', type: 'operating-system', name: 'base', path: 'rootfs/base.tar.gz', services: [], contains: [{ ...deb('libssl3', '1:3.0.9-1', 'openssl'), ref: 'rootfs/base.tar.gz#libssl3', path: undefined }] },
      ],
    }),
  );
  keyring = key.public;

  // OSV's per-ecosystem archive: a zip of one JSON record per advisory
  const osvDir = join(dir, 'osv');
  await mkdir(osvDir);
  const records = {
    'DSA-later-revision.json': osvDebian('2026-0001', 'openssl', '1:3.0.11-1~deb12u3'), // fixed in a later revision: affected
    'DSA-no-epoch.json': osvDebian('2026-0002', 'openssl', '3.0.12'), // 3.0.12 < 1:3.0.11 (epoch 0 < 1): not affected
    'DSA-tilde.json': osvDebian('2026-0003', 'openssl', '1:3.0.11-1'), // ~deb12u2 sorts before -1: affected
    'DSA-curl-fixed-here.json': osvDebian('2026-0004', 'curl', '7.88.1-10+deb12u5'), // fixed in exactly this version
  };
  for (const [name, rec] of Object.entries(records)) await writeFile(join(osvDir, name), JSON.stringify(rec));
  osvZip = join(dir, 'debian-osv.zip');
  const zipped = await run('zip', ['-q', '-j', osvZip, ...Object.keys(records).map((n) => join(osvDir, n))]);
  expect(zipped.code, zipped.stderr).toBe(0);

  pypiJson = join(dir, 'pypi.json');
  await writeFile(
    pypiJson,
    JSON.stringify([
      { id: 'GHSA-jinja', aliases: ['CVE-2024-22195'], database_specific: { severity: 'MODERATE' }, affected: [{ package: { ecosystem: 'PyPI', name: 'jinja2' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.1.3' }] }] }] },
      { id: 'GHSA-requests', database_specific: { severity: 'HIGH' }, affected: [{ package: { ecosystem: 'PyPI', name: 'Requests' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.3.0' }, { fixed: '2.32.0rc1' }] }] }] },
    ]),
  );

  tracker = join(dir, 'tracker.json');
  await writeFile(
    tracker,
    JSON.stringify({
      curl: {
        'CVE-2026-1000': { releases: { bookworm: { status: 'resolved', fixed_version: '7.88.1-10+deb12u6', urgency: 'high' }, trixie: { status: 'resolved', fixed_version: '0', urgency: 'high' } } },
        'CVE-2026-1001': { releases: { bookworm: { status: 'resolved', fixed_version: '7.88.1-10+deb12u5', urgency: 'medium' } } },
        'CVE-2026-1002': { releases: { bookworm: { status: 'open', urgency: 'unimportant' } } },
      },
      openssl: { 'CVE-2026-2000': { releases: { bookworm: { status: 'resolved', fixed_version: '1:3.0.11-1~deb12u1', urgency: 'high' } } } },
    }),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Finding {
  package: string;
  in?: string;
  version: string;
  fixed: string | null;
  ids: string[];
  severity: string;
}
const report = async (args: string[]) => {
  const r = await ferry(['audit', bundle, '--keyring', keyring, ...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
};

describe('offline vulnerability report', () => {
  it('matches Debian packages against an OSV zip with epochs, tildes and a fix in a later revision', async () => {
    const findings = (await report(['--db', osvZip])).filter((f) => f.in === undefined);
    expect(findings.map((f) => [f.package, f.version, f.fixed, f.ids.filter((i) => !i.startsWith('CVE'))])).toEqual([
      ['openssl', '1:3.0.11-1~deb12u2', '1:3.0.11-1~deb12u3', ['2026-0001']],
      ['openssl', '1:3.0.11-1~deb12u2', '1:3.0.11-1', ['2026-0003']],
    ]);
  });

  it("audits the Debian packages inside a rootfs too, under their source package's advisories, from the SBOM", async () => {
    // libssl3 is built from openssl: Debian files advisories under the source package
    const osv = (await report(['--db', osvZip])).filter((f) => f.in !== undefined);
    expect(osv.map((f) => [f.package, f.version, f.in, f.fixed, f.ids.filter((i) => !i.startsWith('CVE'))])).toEqual([
      ['libssl3', '1:3.0.9-1', 'rootfs/base.tar.gz', '1:3.0.11-1~deb12u3', ['2026-0001']],
      ['libssl3', '1:3.0.9-1', 'rootfs/base.tar.gz', '1:3.0.11-1', ['2026-0003']],
    ]);
    const tracked = (await report(['--db', tracker, '--suite', 'bookworm'])).filter((f) => f.in !== undefined);
    expect(tracked).toEqual([{ kind: 'deb', package: 'libssl3', version: '1:3.0.9-1', in: 'rootfs/base.tar.gz', fixed: '1:3.0.11-1~deb12u1', ids: ['CVE-2026-2000'], severity: 'high' }]);
  });

  it('reads a bundle only after verifying it: an untrusted key is refused and nothing is reported', async () => {
    const other = await writeKey(dir, 'other');
    const r = await ferry(['audit', bundle, '--keyring', other.public, '--db', osvZip]);
    expect(r.code).toBe(66);
    expect(r.stdout).toBe('');
  });

  it('matches wheels by PEP 440 under their normalized names', async () => {
    const findings = await report(['--db', pypiJson]);
    expect(findings).toEqual([{ kind: 'wheel', package: 'Jinja2', version: '3.1.2', fixed: '3.1.3', ids: ['CVE-2024-22195', 'GHSA-jinja'], severity: 'medium' }]);
  });

  it('reads Debian security tracker JSON for the chosen release, unfixed ones included', async () => {
    const findings = (await report(['--db', tracker, '--suite', 'bookworm'])).filter((f) => f.in === undefined);
    expect(findings.map((f) => [f.package, f.fixed, f.ids, f.severity])).toEqual([
      ['curl', '7.88.1-10+deb12u6', ['CVE-2026-1000'], 'high'],
      ['curl', null, ['CVE-2026-1002'], 'low'],
    ]);
    const none = await report(['--db', tracker, '--suite', 'trixie']);
    expect(none).toEqual([]);
    const ambiguous = await ferry(['audit', bundle, '--keyring', keyring, '--db', tracker]);
    expect(ambiguous.code).toBe(64);
    expect(ambiguous.stderr).toContain('pass --suite NAME');
  });

  it('evaluates OSV ranges as the OSV schema does: sorted events, last_affected, limit; withdrawn records affect nothing', async () => {
    const pypi = (id: string, events: object[], extra: object = {}) => ({ id, ...extra, affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [{ type: 'ECOSYSTEM', events }] }] });
    const file = join(dir, 'osv-ranges.json');
    await writeFile(
      file,
      JSON.stringify([
        // events need not be listed in order: the fix still ends the stretch that holds 2.32.0
        pypi('OSV-unsorted', [{ fixed: '2.32.1' }, { introduced: '2.0' }]),
        // an inclusive upper bound: 2.32.0 is the last affected version here, 2.31.0 in the next one
        pypi('OSV-last-here', [{ introduced: '0' }, { last_affected: '2.32.0' }]),
        pypi('OSV-last-before', [{ introduced: '0' }, { last_affected: '2.31.0' }]),
        // a limit bounds the whole range: 2.32.0 is at or above it
        { id: 'OSV-limited', affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { limit: '2.5' }] }] }] },
        // two stretches: 2.32.0 lies between them
        pypi('OSV-between', [{ introduced: '1.0' }, { fixed: '2.0' }, { introduced: '3.0' }, { fixed: '3.1' }]),
        pypi('OSV-withdrawn', [{ introduced: '0' }], { withdrawn: '2026-11-01T00:00:00Z' }),
        // OSV lists exact versions too, in the ecosystem's own spelling: 2.32 is PEP 440's 2.32.0
        { id: 'OSV-listed', affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, versions: ['2.31', '2.32'] }] },
      ]),
    );
    const findings = (await report(['--db', file])).filter((f) => f.package === 'requests');
    expect(findings).toEqual([
      { kind: 'wheel', package: 'requests', version: '2.32.0', fixed: '2.32.1', ids: ['OSV-unsorted'], severity: 'unknown' },
      { kind: 'wheel', package: 'requests', version: '2.32.0', fixed: null, last_affected: '2.32.0', ids: ['OSV-last-here'], severity: 'unknown' },
      { kind: 'wheel', package: 'requests', version: '2.32.0', fixed: null, ids: ['OSV-listed'], severity: 'unknown' },
    ]);
    const table = await ferry(['audit', bundle, '--keyring', keyring, '--db', file]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/requests \(wheel\)\s+2\.32\.0\s+\(after 2\.32\.0\)\s+unknown\s+OSV-last-here/);
  });

  it("matches OSV's Debian data of the bundle's release only: --suite picks it when the data covers several", async () => {
    const file = join(dir, 'osv-releases.json');
    const inRelease = (id: string, release: string, fixed: string) => ({ ...osvDebian(id, 'curl', fixed), affected: [{ ...osvDebian(id, 'curl', fixed).affected[0]!, package: { ecosystem: `Debian:${release}`, name: 'curl' } }] });
    // bullseye's fix is a bullseye version, below bookworm's: matched against bookworm's curl it would hide the bookworm advisory's finding
    await writeFile(file, JSON.stringify([inRelease('DSA-11', '11', '7.74.0-1.3+deb11u9'), inRelease('DSA-12', '12', '7.88.1-10+deb12u6')]));
    const several = await ferry(['audit', bundle, '--keyring', keyring, '--db', file]);
    expect(several.code).toBe(64);
    expect(several.stderr.trim().split('\n')).toEqual(['ferry: OSV Debian data for 2 releases (Debian:11, Debian:12): pass --suite NAME (e.g. bookworm or 12)']);
    expect(several.stdout).toBe('');
    for (const suite of ['bookworm', '12']) expect((await report(['--db', file, '--suite', suite])).map((f) => [f.package, f.fixed, f.ids])).toEqual([['curl', '7.88.1-10+deb12u6', ['CVE-DSA-12', 'DSA-12']]]);
    expect(await report(['--db', file, '--suite', 'bullseye'])).toEqual([]);
    const missing = await ferry(['audit', bundle, '--keyring', keyring, '--db', file, '--suite', 'trixie']);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain('no OSV Debian data for --suite trixie (Debian:13; the data covers Debian:11, Debian:12)');
    // the tracker: a release it does not cover would report nothing, which is not a clean report
    const untracked = await ferry(['audit', bundle, '--keyring', keyring, '--db', tracker, '--suite', 'sid']);
    expect(untracked.code).toBe(64);
    expect(untracked.stderr).toContain('no Debian security tracker data for --suite sid (it covers bookworm, trixie)');
  });

  it("takes the Debian release from the SBOM's purls (distro=) when --suite is not given: several releases need no --suite, another release's data is refused", async () => {
    const key = await writeKey(dir, 'distro');
    const secret = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
    const named = join(dir, 'distroapp-1.0.0.ferry');
    const purl = new PackageURL('deb', 'debian', 'curl', '7.88.1-10+deb12u5', { arch: 'amd64', distro: 'bookworm' }, undefined).toString();
    const curl: SbomComponent = { ref: purl, type: 'library', name: 'curl', version: '7.88.1-10+deb12u5', purl, path: 'apt/pool/curl.deb', services: [] };
    await writeFile(named, await craftSbomBundle(secret, { name: 'distroapp', components: [curl] }));
    const inRelease = (id: string, release: string, fixed: string) => ({ ...osvDebian(id, 'curl', fixed), affected: [{ ...osvDebian(id, 'curl', fixed).affected[0]!, package: { ecosystem: `Debian:${release}`, name: 'curl' } }] });
    const both = join(dir, 'osv-distro-both.json');
    await writeFile(both, JSON.stringify([inRelease('DSA-11', '11', '7.74.0-1.3+deb11u9'), inRelease('DSA-12', '12', '7.88.1-10+deb12u6')]));
    const found = await ferry(['audit', named, '--keyring', key.public, '--db', both, '--json']);
    expect(found.code, found.stderr).toBe(0);
    expect((JSON.parse(found.stdout) as { findings: Finding[] }).findings.map((f) => [f.package, f.fixed, f.ids])).toEqual([['curl', '7.88.1-10+deb12u6', ['CVE-DSA-12', 'DSA-12']]]);
    // bullseye's data alone: matched against bookworm's curl it reports clean, which is not a clean report
    const other = join(dir, 'osv-distro-11.json');
    await writeFile(other, JSON.stringify([inRelease('DSA-11', '11', '7.74.0-1.3+deb11u9')]));
    const refused = await ferry(['audit', named, '--keyring', key.public, '--db', other]);
    expect([refused.code, refused.stderr.trim().split('\n'), refused.stdout]).toEqual([64, ["ferry: no OSV Debian data for bookworm (the release the SBOM's packages name; --suite chooses another) (Debian:12; the data covers Debian:11)"], '']);
    // a mirror's purls name the suite's Codename (bookworm-security, bookworm-updates): bookworm's release
    const mixed = join(dir, 'distromix-1.0.0.ferry');
    const updates = (name: string, distro: string): SbomComponent => {
      const p = new PackageURL('deb', 'debian', name, '1.0-1', { arch: 'amd64', distro }, undefined).toString();
      return { ref: p, type: 'library', name, version: '1.0-1', purl: p, path: `mirrors/m/debian/pool/main/${name}.deb`, services: [] };
    };
    const suiteOf: Record<string, string> = { tzdata: 'bookworm-updates', libssl3: 'bookworm-security' };
    const inSuites = (m: Manifest) => {
      const mirror = (m.artifacts as { mirror: { apt: Record<string, { suites: string[]; packages: Array<{ name: string; suite?: string }> }> } }).mirror.apt.m!;
      mirror.suites = Object.values(suiteOf);
      for (const p of mirror.packages) p.suite = suiteOf[p.name];
    };
    const components = [curl, ...Object.entries(suiteOf).map(([name, suite]) => updates(name, suite))];
    await writeFile(mixed, await craftSbomBundle(secret, { name: 'distromix', components, editManifest: inSuites }));
    const fromSuites = await ferry(['audit', mixed, '--keyring', key.public, '--db', both, '--json']);
    expect(fromSuites.code, fromSuites.stderr).toBe(0);
    expect((JSON.parse(fromSuites.stdout) as { findings: Finding[] }).findings.map((f) => [f.package, f.fixed])).toEqual([['curl', '7.88.1-10+deb12u6']]);
    // --suite still chooses
    const chosen = await ferry(['audit', named, '--keyring', key.public, '--db', other, '--suite', 'bullseye', '--json']);
    expect([chosen.code, (JSON.parse(chosen.stdout) as { findings: Finding[] }).findings]).toEqual([0, []]);
    // the tracker, which lists every release, reads the SBOM's one
    const tracked = await ferry(['audit', named, '--keyring', key.public, '--db', tracker, '--json']);
    expect(tracked.code, tracked.stderr).toBe(0);
    expect((JSON.parse(tracked.stdout) as { findings: Finding[] }).findings.map((f) => f.ids).flat().sort()).toEqual(['CVE-2026-1000', 'CVE-2026-1002']);
  });

  it('prints a table and fails a CI gate at or above --fail-on', async () => {
    const table = await ferry(['audit', bundle, '--keyring', keyring, '--db', tracker, '--db', pypiJson, '--suite', 'bookworm']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/PACKAGE\s+VERSION\s+FIXED\s+SEVERITY\s+IDS/);
    expect(table.stdout).toMatch(/curl \(deb\)\s+7\.88\.1-10\+deb12u5\s+7\.88\.1-10\+deb12u6\s+high\s+CVE-2026-1000/);
    const gate = await ferry(['audit', bundle, '--keyring', keyring, '--db', tracker, '--suite', 'bookworm', '--fail-on', 'high']);
    expect(gate.code).toBe(1);
    expect(gate.stderr).toContain('2 finding(s) at or above high: curl 7.88.1-10+deb12u5, libssl3 1:3.0.9-1 (in rootfs/base.tar.gz)');
    expect(table.stdout).toMatch(/libssl3 \(deb in rootfs\/base\.tar\.gz\)\s+1:3\.0\.9-1\s+1:3\.0\.11-1~deb12u1\s+high\s+CVE-2026-2000/);
    expect((await ferry(['audit', bundle, '--keyring', keyring, '--db', tracker, '--suite', 'bookworm', '--fail-on', 'critical'])).code).toBe(0);
  });

  it("reports the tracker's undetermined issues (FIXED (undetermined), severity from urgency) rather than a clean report, and --fail-on counts them", async () => {
    const file = join(dir, 'tracker-undetermined.json');
    await writeFile(
      file,
      JSON.stringify({
        curl: {
          'CVE-2026-3000': { releases: { bookworm: { status: 'undetermined', urgency: 'high' } } },
          'CVE-2026-3001': { releases: { bookworm: { status: 'undetermined', urgency: 'not yet assigned' } } },
          'CVE-2026-3002': { releases: { bookworm: { status: 'not-affected', urgency: 'high' } } },
        },
      }),
    );
    const findings = (await report(['--db', file, '--suite', 'bookworm'])).filter((f) => f.in === undefined);
    expect(findings.map((f) => [f.package, f.fixed, f.ids, f.severity, (f as { undetermined?: boolean }).undetermined])).toEqual([['curl', null, ['CVE-2026-3000', 'CVE-2026-3001'], 'high', true]]);
    const table = await ferry(['audit', bundle, '--keyring', keyring, '--db', file, '--suite', 'bookworm']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/curl \(deb\)\s+7\.88\.1-10\+deb12u5\s+\(undetermined\)\s+high\s+CVE-2026-3000,CVE-2026-3001/);
    // an undetermined issue of an urgency at or above the gate fails it: nobody has cleared it
    const gate = await ferry(['audit', bundle, '--keyring', keyring, '--db', file, '--suite', 'bookworm', '--fail-on', 'high']);
    expect([gate.code, gate.stderr.trim().split('\n')]).toEqual([1, [expect.stringMatching(/: 1 finding\(s\) at or above high: curl 7\.88\.1-10\+deb12u5 \(undetermined\)$/)]]);
    // beside a confirmed unfixed issue of the same package it is its own finding
    const both = (await report(['--db', file, '--db', tracker, '--suite', 'bookworm'])).filter((f) => f.in === undefined && f.fixed === null);
    expect(both.map((f) => [f.ids, (f as { undetermined?: boolean }).undetermined ?? false])).toEqual([[['CVE-2026-1002'], false], [['CVE-2026-3000', 'CVE-2026-3001'], true]]);
  });

  it('rates a record that scores itself only with a CVSS vector by that vector, so --fail-on sees it', async () => {
    const file = join(dir, 'osv-cvss.json');
    const vector = (type: string, score: string) => ({ type, score });
    await writeFile(
      file,
      JSON.stringify([
        // PYSEC and Debian records carry no severity word, only vectors: 9.8 is critical
        { id: 'PYSEC-cvss-v3', severity: [vector('CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')], affected: [{ package: { ecosystem: 'PyPI', name: 'Jinja2' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.1.3' }] }] }] },
        // a vector of the affected entry; 4.3 is medium
        { id: 'OSV-cvss-v2', affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, severity: [vector('CVSS_V2', 'AV:N/AC:M/Au:N/C:N/I:P/A:N')], ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.33' }] }] }] },
        // the database's own word comes first
        { id: 'GHSA-worded', database_specific: { severity: 'LOW' }, severity: [vector('CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')], affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.34' }] }] }] },
        // an urgency that is no severity yet (Debian's 'not yet assigned') leaves the record's word to say it
        { id: 'OSV-unassigned', database_specific: { severity: 'HIGH' }, affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, ecosystem_specific: { urgency: 'not yet assigned' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36' }] }] }] },
        // a CVSS v4 vector alone is scored too: 7.9 is high
        { id: 'OSV-cvss-v4', severity: [vector('CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:H/SA:H')], affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.35' }] }] }] },
        // v3 3.7 (low) beside v4 5.2 (medium): the highest rating of the two counts
        { id: 'OSV-cvss-v3-v4', severity: [vector('CVSS_V3', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N'), vector('CVSS_V4', 'CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L')], affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.37' }] }] }] },
        // a malformed v4 vector (a metric twice) rates nothing, as a malformed v3 one
        { id: 'OSV-cvss-v4-bad', severity: [vector('CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/SA:N')], affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.38' }] }] }] },
      ]),
    );
    expect((await report(['--db', file])).map((f) => [f.package, f.ids, f.severity])).toEqual([
      ['Jinja2', ['PYSEC-cvss-v3'], 'critical'],
      ['requests', ['OSV-cvss-v2'], 'medium'],
      ['requests', ['GHSA-worded'], 'low'],
      ['requests', ['OSV-cvss-v4'], 'high'],
      ['requests', ['OSV-unassigned'], 'high'],
      ['requests', ['OSV-cvss-v3-v4'], 'medium'],
      ['requests', ['OSV-cvss-v4-bad'], 'unknown'],
    ]);
    const gate = await ferry(['audit', bundle, '--keyring', keyring, '--db', file, '--fail-on', 'critical']);
    expect(gate.code).toBe(1);
    expect(gate.stderr.trim().split('\n')).toEqual(['ferry: vulnapp 1.0.0: 1 finding(s) at or above critical: Jinja2 3.1.2']);
    // a gate on high counts the record rated by its v4 vector alone
    const onlyV4 = join(dir, 'osv-cvss-v4-only.json');
    await writeFile(onlyV4, JSON.stringify(JSON.parse(await readFile(file, 'utf8')).filter((r: { id: string }) => r.id === 'OSV-cvss-v4')));
    const high = await ferry(['audit', bundle, '--keyring', keyring, '--db', onlyV4, '--fail-on', 'high']);
    expect([high.code, high.stderr.trim().split('\n')]).toEqual([1, ['ferry: vulnapp 1.0.0: 1 finding(s) at or above high: requests 2.32.0']]);
  });

  it('refuses OSV data with no Debian or PyPI record (exit 65, one line) rather than report the bundle clean', async () => {
    const npm = join(dir, 'osv-npm.json');
    await writeFile(npm, JSON.stringify([{ id: 'GHSA-npm', database_specific: { severity: 'CRITICAL' }, affected: [{ package: { ecosystem: 'npm', name: 'jinja2' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] }] }]));
    const empty = join(dir, 'osv-empty.json');
    await writeFile(empty, '[]');
    // an archive of another ecosystem, and one whose files are not JSON records at all
    const zips = join(dir, 'osv-other-zips');
    await mkdir(zips);
    await writeFile(join(zips, 'GHSA-npm.json'), (await readFile(npm, 'utf8')).slice(1, -1));
    await writeFile(join(zips, 'README.txt'), 'not a record');
    const npmZip = join(dir, 'npm-osv.zip');
    const noJsonZip = join(dir, 'no-json-osv.zip');
    for (const [zip, files] of [[npmZip, ['GHSA-npm.json']], [noJsonZip, ['README.txt']]] as const) {
      const zipped = await run('zip', ['-q', '-j', zip, ...files.map((f) => join(zips, f))]);
      expect(zipped.code, zipped.stderr).toBe(0);
    }
    for (const [file, names] of [[npm, 'it names "npm"'], [empty, 'it holds no OSV record'], [npmZip, 'it names "npm"'], [noJsonZip, 'it holds no OSV record']]) {
      const r = await ferry(['audit', bundle, '--keyring', keyring, '--db', osvZip, '--db', file!]);
      expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([65, [`ferry: ${file}: no OSV record of the Debian or PyPI ecosystems (${names}): this data cannot say a bundle is clean`], '']);
    }
    // a file of withdrawn records only is data of the ecosystem: it affects nothing (the control)
    const withdrawn = join(dir, 'osv-withdrawn-only.json');
    await writeFile(withdrawn, JSON.stringify([{ id: 'PYSEC-gone', withdrawn: '2026-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'PyPI', name: 'jinja2' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] }] }]));
    expect(await report(['--db', withdrawn])).toEqual([]);
  });

  it('refuses vulnerability data far denser in JSON values than real data before parsing it (exit 65, one line): parsing costs per value', async () => {
    // a valid record carrying 300,000 empty objects (600,000 values with their commas): 100 MiB of them took 94 s and 3.3 GB to parse, 512 MiB
    // (under the size bound) would crash the process at V8's heap limit
    const record = JSON.stringify({ ...osvDebian('2026-dense', 'openssl', '1:3.0.11-1~deb12u3'), padding: [] });
    const dense = record.replace('"padding":[]', `"padding":[${'{},'.repeat(300_000)}{}]`);
    const file = join(dir, 'osv-dense.json');
    await writeFile(file, `[${dense}]`);
    const zips = join(dir, 'osv-dense-zip');
    await mkdir(zips);
    await writeFile(join(zips, 'DSA-dense.json'), dense);
    const zip = join(dir, 'dense-osv.zip');
    const zipped = await run('zip', ['-q', '-j', zip, join(zips, 'DSA-dense.json')]);
    expect(zipped.code, zipped.stderr).toBe(0);
    for (const [db, label] of [[file, file], [zip, `${zip}: DSA-dense.json`]]) {
      const r = await ferry(['audit', bundle, '--keyring', keyring, '--db', db!]);
      expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([65, [expect.stringMatching(new RegExp(`^ferry: ${label!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: holds 60\\d{4} JSON values in \\d+ bytes, more than vulnerability data has \\(\\d+\\): refused before parsing$`))], '']);
    }
    // the same record without the padding is read (the control)
    const plain = join(dir, 'osv-plain.json');
    await writeFile(plain, `[${record}]`);
    expect((await report(['--db', plain])).map((f) => [f.package, f.ids])).toEqual([
      ['libssl3', ['2026-dense', 'CVE-2026-dense']],
      ['openssl', ['2026-dense', 'CVE-2026-dense']],
    ]);
  });

  it('names a few of the releases data covers when it refuses, not thousands of them (one short line)', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => `r${String(i).padStart(4, '0')}${'x'.repeat(60)}`);
    const trackerMany = join(dir, 'tracker-many.json');
    await writeFile(trackerMany, JSON.stringify({ curl: { 'CVE-2026-9': { releases: Object.fromEntries(many.map((r) => [r, { status: 'open', urgency: 'high' }])) } } }));
    const osvMany = join(dir, 'osv-many.json');
    await writeFile(osvMany, JSON.stringify(many.map((r, i) => ({ ...osvDebian(`2026-m${i}`, 'curl', '1'), affected: [{ package: { ecosystem: `Debian:${r}`, name: 'curl' } }] }))));
    const first = (prefix: string) => `${many.slice(0, 5).map((r) => `${prefix}${r.slice(0, 40)}…`).join(', ')} and 2995 more`;
    for (const [args, line] of [
      [['--db', trackerMany], `ferry: ${trackerMany}: Debian security tracker data for 3000 releases (${first('')}): pass --suite NAME`],
      [['--db', trackerMany, '--suite', 'sid'], `ferry: ${trackerMany}: no Debian security tracker data for --suite sid (it covers ${first('')})`],
      [['--db', osvMany], `ferry: OSV Debian data for 3000 releases (${first('Debian:')}): pass --suite NAME (e.g. bookworm or 12)`],
      [['--db', osvMany, '--suite', 'sid'], `ferry: no OSV Debian data for --suite sid (Debian:sid; the data covers ${first('Debian:')})`],
    ] as const) {
      const r = await ferry(['audit', bundle, '--keyring', keyring, ...args]);
      expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([64, [line], '']);
    }
  });

  // Debian's OSV data holds thousands of advisories for one source package (linux). Matching them once
  // copied the package's list at each advisory and re-sorted a finding's IDs at each hit: 20,000 took
  // about three minutes, 50,000 would take over half an hour; now about two seconds. The timeout leaves
  // a margin of 50 times over the fixed code, and still fails the old one by far.
  it('reports tens of thousands of advisories for one package, each ID once', { timeout: 120_000 }, async () => {
    const n = 50_000;
    const file = join(dir, 'osv-many.json');
    await writeFile(file, JSON.stringify(Array.from({ length: n }, (_, i) => osvDebian(`2026-${i}`, 'curl', '7.88.1-10+deb12u6'))));
    const findings = await report(['--db', file]);
    expect(findings.map((f) => [f.package, f.fixed, f.ids.length])).toEqual([['curl', '7.88.1-10+deb12u6', 2 * n]]);
  });

  it('refuses vulnerability data too large to be JSON with one line (65), before reading it', async () => {
    // sparse: 600 MB on paper, nothing on the disk; past the longest string Node can make of it
    const file = join(dir, 'osv-huge.json');
    await writeFile(file, '');
    await truncate(file, 600 * 1024 * 1024);
    const r = await ferry(['audit', bundle, '--keyring', keyring, '--db', file]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ferry: .*osv-huge\.json: 629145600 bytes; refusing JSON of more than \d+$/)]);
    expect(r.stdout).toBe('');
  });
});
