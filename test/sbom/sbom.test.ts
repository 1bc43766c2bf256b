import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { ferry, run } from '../helpers/cli.js';
import { EPOCH, fixtureUpstream } from '../apt/aptSetup.js';
import { buildWheels, hostPython, requirementsFor, serveFixtureIndex, wheelMetadata, type FixtureIndex } from '../python/fixtures.js';
import { makeUpstream } from '../git/helpers.js';
import type { CdxBom, CdxComponent } from '../../src/sbom/cycloneDx.js';
import type { SpdxDocument } from '../../src/sbom/toSpdx.js';

const py = hostPython();

/** Every component, nested ones included. */
function allComponents(bom: CdxBom): CdxComponent[] {
  const out: CdxComponent[] = [];
  const walk = (c: CdxComponent) => (out.push(c), (c.components ?? []).forEach(walk));
  walk(bom.metadata.component);
  bom.components.forEach(walk);
  return out;
}
const prop = (c: CdxComponent, name: string) => (c.properties ?? []).filter((p) => p.name === name).map((p) => p.value);
const byPurlName = (bom: CdxBom, name: string) => bom.components.filter((c) => c.name === name);
const dependsOn = (bom: CdxBom, ref: string) => bom.dependencies.find((d) => d.ref === ref)?.dependsOn;

async function validateCycloneDx16(json: string): Promise<unknown> {
  return new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(json);
}

describe('the SBOM every bundle carries (sbom.cdx.json)', () => {
  let fx: Awaited<ReturnType<typeof fixtureUpstream>>;
  let index: FixtureIndex;
  let dir: string;
  let spec: string;
  let bundle: string;
  let sbomBytes: Buffer;
  let bom: CdxBom;
  let gitCommit: string;

  beforeAll(async () => {
    fx = await fixtureUpstream();
    dir = fx.dir;
    // wheels: a project whose name pip normalizes (Tiny_Pkg -> tiny-pkg)
    const wheels = join(dir, 'wheels');
    buildWheels(wheels, [{ name: 'Tiny_Pkg', version: '2.0', files: { 'tiny_pkg/__init__.py': 'X = 1\n' } }]);
    index = await serveFixtureIndex(wheels);
    await mkdir(join(dir, 'requirements'), { recursive: true });
    await writeFile(join(dir, 'requirements/web.txt'), await requirementsFor(wheels, [{ name: 'Tiny_Pkg', version: '2.0' }]));
    // a git repository, a plain file and a folder rootfs
    gitCommit = (await makeUpstream(join(dir, 'repo'))).commits[2]!;
    await writeFile(join(dir, 'web.conf'), 'listen 80\n');
    await mkdir(join(dir, 'tree/etc'), { recursive: true });
    await writeFile(join(dir, 'tree/etc/os-release'), 'NAME=sbom-test\n');
    spec = join(dir, 'sbomdemo.yaml');
    await writeFile(
      spec,
      [
        'name: sbomdemo',
        'version: 1.0.0',
        `epoch: ${EPOCH.toISOString()}`,
        'targets:',
        '  debian: { suite: bookworm, architectures: [amd64] }',
        `  python: { version: "${py.version}", platforms: [manylinux_2_36_${py.machine}] }`,
        'upstreams:',
        `  apt: [{ uri: "${fx.server.url}", suites: [fixture], keyring: upstream.asc }]`,
        `  python: { index: "${index.url}" }`,
        'services:',
        '  web:',
        '    version: 2.1.0',
        '    groups: [web, edge]',
        '    artifacts:',
        '      apt: [app]',
        '      python: { requirements: requirements/web.txt }',
        '      git: [{ url: ./repo, ref: v1.0, name: site }]',
        '      files: [{ src: web.conf }]',
        '  worker:',
        '    version: 1.0.0',
        '    groups: [worker]',
        '    artifacts: { apt: [libbar], rootfs: [tree] }',
        'rootfs:',
        '  tree: { directory: { path: tree } }',
        '',
      ].join('\n'),
    );
    const lock = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(lock.code, lock.stderr).toBe(0);
    const build = await ferry(['build', spec, '--locked', '--key', fx.bundleKey.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache')]);
    expect(build.code, build.stderr).toBe(0);
    bundle = join(dir, 'out/sbomdemo-1.0.0.ferry');
    const x = join(dir, 'unpacked');
    await mkdir(x);
    expect((await run('tar', ['-xf', bundle, '-C', x])).code).toBe(0);
    sbomBytes = await readFile(join(x, 'sbom.cdx.json'));
    bom = JSON.parse(sbomBytes.toString('utf8'));
  });
  afterAll(async () => {
    await fx?.server.close();
    await index?.close();
  });

  it('is listed in the signed manifest with its sha256, like every entry', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'unpacked/manifest.json'), 'utf8'));
    const entry = manifest.entries.find((e: { path: string }) => e.path === 'sbom.cdx.json');
    expect(entry).toMatchObject({ kind: 'sbom', size: sbomBytes.length, services: [] });
    expect(entry.sha256).toBe((await run('sha256sum', [join(dir, 'unpacked/sbom.cdx.json')])).stdout.split(' ')[0]);
    const verify = await ferry(['verify', bundle, '--keyring', fx.bundleKey.public]);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it('validates against the official CycloneDX 1.6 JSON schema (strict)', async () => {
    expect(await validateCycloneDx16(sbomBytes.toString('utf8'))).toBeNull();
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 1 });
    expect(bom.metadata.timestamp).toBe('2026-11-25T00:00:00Z');
  });

  it('the schema check can fail: a component without a name is refused', async () => {
    const broken = structuredClone(bom) as unknown as { components: Array<Record<string, unknown>> };
    delete broken.components[0]!.name;
    expect(await validateCycloneDx16(JSON.stringify(broken))).not.toBeNull();
  });

  it('lists every .deb with the name, version, architecture and source its own control file gives, its purl and sha256', async () => {
    const lock = JSON.parse(await readFile(join(dir, 'sbomdemo.lock.json'), 'utf8'));
    const debs = bom.components.filter((c) => c.purl?.startsWith('pkg:deb/'));
    expect(debs.map((c) => c.name).sort()).toEqual(lock.kinds.apt.packages.map((p: { name: string }) => p.name).sort());
    for (const c of debs) {
      const file = join(dir, 'unpacked', prop(c, 'ferry:path')[0]!);
      const f = (await run('dpkg-deb', ['-f', file, 'Package', 'Version', 'Architecture', 'Source'])).stdout;
      const field = (n: string) => new RegExp(`^${n}: (.*)$`, 'm').exec(f)?.[1];
      expect(c.name).toBe(field('Package'));
      expect(c.version).toBe(field('Version'));
      expect(prop(c, 'ferry:deb:architecture')).toEqual([field('Architecture')]);
      expect(prop(c, 'ferry:deb:source')).toEqual([field('Source') ?? field('Package')]);
      const purl = PackageURL.fromString(c.purl!);
      // distro: the suite the bundle publishes them in (targets.debian.suite)
      expect([purl.type, purl.namespace, purl.name, purl.version, purl.qualifiers?.arch, purl.qualifiers?.distro]).toEqual(['deb', 'debian', field('Package'), field('Version'), field('Architecture'), 'bookworm']);
      expect(c.hashes).toEqual([{ alg: 'SHA-256', content: (await run('sha256sum', [file])).stdout.split(' ')[0] }]);
    }
    // qualifiers sorted by key, as the purl spec writes them
    expect(byPurlName(bom, 'libbar')[0]!.purl).toBe('pkg:deb/debian/libbar@2:0.5?arch=amd64&distro=bookworm');
    expect(prop(byPurlName(bom, 'libfoo')[0]!, 'ferry:deb:source')).toEqual(['foo']);
  });

  it('links each .deb to the packages of the bundle that meet its Depends and Pre-Depends', () => {
    const ref = (name: string) => byPurlName(bom, name)[0]!['bom-ref'];
    // app: Pre-Depends prelib; Depends libfoo (>= 1.2), httpd | tinyhttpd (bighttpd provides httpd),
    // mail-api (>= 2) (newmail provides 2.1), pyish:any, basefiles
    expect(dependsOn(bom, ref('app'))).toEqual(['basefiles', 'bighttpd', 'libfoo', 'newmail', 'prelib', 'pyish'].map(ref).sort());
    expect(dependsOn(bom, ref('libfoo'))).toEqual([ref('libbar')]);
    expect(dependsOn(bom, ref('libbar'))).toEqual([ref('basefiles')]);
    expect(dependsOn(bom, ref('basefiles'))).toEqual([]);
  });

  it('lists the wheel with a pypi purl and the name and version of its METADATA', async () => {
    const [wheel] = bom.components.filter((c) => c.purl?.startsWith('pkg:pypi/'));
    const meta = await wheelMetadata(join(dir, 'unpacked', prop(wheel!, 'ferry:path')[0]!));
    const name = /^Name: (.*)$/m.exec(meta)![1]!;
    expect(name).toBe('Tiny_Pkg');
    expect(wheel!.name).toBe('tiny-pkg');
    expect(wheel!.version).toBe(/^Version: (.*)$/m.exec(meta)![1]);
    expect(wheel!.purl).toBe('pkg:pypi/tiny-pkg@2.0?file_name=Tiny_Pkg-2.0-py3-none-any.whl');
    expect(prop(wheel!, 'ferry:service')).toEqual(['web']);
  });

  it('lists the git repository at its commit, the rootfs tarball and the file, each with its sha256', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'unpacked/manifest.json'), 'utf8'));
    const sha = (path: string) => manifest.entries.find((e: { path: string }) => e.path === path).sha256;
    const site = bom.components.find((c) => c['bom-ref'] === 'git/site.bundle')!;
    expect(site).toMatchObject({ type: 'application', name: 'site', version: gitCommit, purl: `pkg:generic/site@${gitCommit}`, hashes: [{ alg: 'SHA-256', content: sha('git/site.bundle') }] });
    expect(prop(site, 'ferry:git:ref')).toEqual(['v1.0']);
    const tree = bom.components.find((c) => c['bom-ref'] === 'rootfs/tree.tar.gz')!;
    expect(tree).toMatchObject({ type: 'file', name: 'tree', hashes: [{ alg: 'SHA-256', content: sha('rootfs/tree.tar.gz') }] });
    expect(prop(tree, 'ferry:service')).toEqual(['worker']);
    const conf = bom.components.find((c) => c['bom-ref'] === 'files/web/web.conf')!;
    expect(conf).toMatchObject({ type: 'file', hashes: [{ alg: 'SHA-256', content: sha('files/web/web.conf') }] });
    // generated indexes and the key are ferry's own, not materials
    expect(bom.components.some((c) => /^(apt\/dists|python\/simple|keys)\//.test(prop(c, 'ferry:path')[0] ?? ''))).toBe(false);
  });

  it('has the release and its services as the root, depending on their artifacts', () => {
    const root = bom.metadata.component;
    expect(root).toMatchObject({ type: 'application', name: 'sbomdemo', version: '1.0.0' });
    expect(root.components!.map((s) => [s.name, s.version, prop(s, 'ferry:group')])).toEqual([
      ['web', '2.1.0', ['edge', 'web']],
      ['worker', '1.0.0', ['worker']],
    ]);
    expect(dependsOn(bom, root['bom-ref'])).toEqual(['service:web', 'service:worker']);
    const worker = dependsOn(bom, 'service:worker')!;
    expect(worker).toContain('rootfs/tree.tar.gz');
    expect(worker).toContain(byPurlName(bom, 'libbar')[0]!['bom-ref']);
    expect(worker).not.toContain('git/site.bundle');
    const web = dependsOn(bom, 'service:web')!;
    for (const ref of ['git/site.bundle', 'files/web/web.conf', byPurlName(bom, 'app')[0]!['bom-ref'], byPurlName(bom, 'tiny-pkg')[0]!['bom-ref']]) expect(web).toContain(ref);
    // every ref a dependency names is a component of the document
    const refs = new Set(allComponents(bom).map((c) => c['bom-ref']));
    for (const d of bom.dependencies) for (const r of [d.ref, ...d.dependsOn]) expect(refs.has(r), r).toBe(true);
  });

  it('is byte-identical from the same lock with another cache, serial number included', async () => {
    const again = await ferry(['build', spec, '--locked', '--key', fx.bundleKey.secret, '--out', join(dir, 'out2'), '--cache', join(dir, 'cache2')]);
    expect(again.code, again.stderr).toBe(0);
    expect((await readFile(join(dir, 'out2/sbomdemo-1.0.0.ferry'))).equals(await readFile(bundle))).toBe(true);
    expect(bom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('ferry sbom prints it from a verified bundle and from the store, and refuses an unverifiable bundle', async () => {
    const fromBundle = await ferry(['sbom', bundle, '--keyring', fx.bundleKey.public]);
    expect(fromBundle.code, fromBundle.stderr).toBe(0);
    expect(fromBundle.stdout).toBe(sbomBytes.toString('utf8'));
    const store = join(dir, 'store');
    const imp = await ferry(['import', bundle, '--keyring', fx.bundleKey.public, '--store', store]);
    expect(imp.code, imp.stderr).toBe(0);
    const fromStore = await ferry(['sbom', 'sbomdemo/1.0.0', '--store', store]);
    expect(fromStore.code, fromStore.stderr).toBe(0);
    expect(fromStore.stdout).toBe(sbomBytes.toString('utf8'));
    const wrongKey = await ferry(['sbom', bundle, '--keyring', fx.otherKey.public]);
    expect(wrongKey.code).toBe(66);
    expect(wrongKey.stdout).toBe('');
    const noKey = await ferry(['sbom', bundle], { env: { FERRY_KEYRING: '' } });
    expect(noKey.code).toBe(64);
  });

  it('ferry sbom refuses a bundle whose SBOM was changed after signing, and prints nothing', async () => {
    const bytes = await readFile(bundle);
    const at = bytes.indexOf('"ferry:deb:source"');
    expect(at).toBeGreaterThan(0);
    bytes[at + 2] = 'F'.charCodeAt(0);
    const bad = join(dir, 'out/tampered-sbom.ferry');
    await writeFile(bad, bytes);
    const r = await ferry(['sbom', bad, '--keyring', fx.bundleKey.public]);
    expect(r.code).toBe(67);
    expect(r.stderr).toMatch(/sbom\.cdx\.json/);
    expect(r.stdout).toBe('');
  });

  it('ferry sbom refuses a stored SBOM that no longer matches the manifest', async () => {
    const store = join(dir, 'store-damaged');
    const imp = await ferry(['import', bundle, '--keyring', fx.bundleKey.public, '--store', store, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    const file = join(store, 'bundles', JSON.parse(imp.stdout).digest, 'sbom.cdx.json');
    await run('chmod', ['u+w', file]);
    await writeFile(file, sbomBytes.toString('utf8').replace('"tiny-pkg"', '"tiny-pkx"'));
    const r = await ferry(['sbom', 'sbomdemo', '--store', store]);
    expect(r.code).toBe(67);
    expect(r.stderr).toMatch(/sbom\.cdx\.json has sha256 [0-9a-f]{64}, but the manifest lists [0-9a-f]{64}/);
  });

  it('ferry sbom --format spdx derives SPDX 2.3 JSON from the same data', async () => {
    const r = await ferry(['sbom', bundle, '--keyring', fx.bundleKey.public, '--format', 'spdx']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as SpdxDocument;
    // the fields SPDX 2.3 requires of a document and of each package
    expect(doc).toMatchObject({ spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: 'sbomdemo-1.0.0' });
    expect(doc.documentNamespace).toMatch(/^https:\/\/\S+$/);
    expect(doc.documentNamespace).toContain(bom.serialNumber.replace('urn:uuid:', ''));
    expect(doc.creationInfo.created).toBe('2026-11-25T00:00:00Z');
    expect(doc.creationInfo.creators[0]).toMatch(/^Tool: ferry-/);
    const ids = doc.packages.map((p) => p.SPDXID);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of doc.packages) {
      expect(p.SPDXID).toMatch(/^SPDXRef-[A-Za-z0-9.-]+$/);
      expect(p.name).not.toBe('');
      expect(p.downloadLocation).toBeTruthy();
    }
    for (const rel of doc.relationships) {
      expect(rel.spdxElementId === 'SPDXRef-DOCUMENT' || ids.includes(rel.spdxElementId)).toBe(true);
      expect(ids).toContain(rel.relatedSpdxElement);
    }
    expect(doc.packages.length).toBe(allComponents(bom).length);
    const app = doc.packages.find((p) => p.name === 'app')!;
    expect(app.externalRefs).toEqual([{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: byPurlName(bom, 'app')[0]!.purl }]);
    expect(app.checksums).toEqual([{ algorithm: 'SHA256', checksumValue: byPurlName(bom, 'app')[0]!.hashes![0]!.content }]);
    const prelib = doc.packages.find((p) => p.name === 'prelib')!;
    expect(doc.relationships).toContainEqual({ spdxElementId: app.SPDXID, relationshipType: 'DEPENDS_ON', relatedSpdxElement: prelib.SPDXID });
    expect(doc.relationships[0]).toEqual({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: doc.documentDescribes[0] });
  });
});
