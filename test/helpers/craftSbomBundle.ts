import * as openpgp from 'openpgp';
import { PackageURL } from 'packageurl-js';
import type { EntryKind, Manifest } from '../../src/bundle/manifest.js';
import type { CdxBom } from '../../src/sbom/cycloneDx.js';
import type { SbomComponent } from '../../src/sbom/sbomComponent.js';
import { writeCycloneDx } from '../../src/sbom/writeCycloneDx.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { craftBundle, manifestFor } from './craft.js';

const KIND_OF: Record<string, EntryKind> = { apt: 'apt', python: 'python', rootfs: 'rootfs', git: 'git', mirrors: 'mirror' };

/**
 * A signed bundle whose SBOM describes what its manifest carries, as a build writes it: each component
 * with a `path` becomes an entry (a few bytes of its own, their sha256 in the component), .debs are
 * listed in artifacts.apt (under mirrors/NAME/debian/: in that apt mirror's), wheels pinned by hash in a
 * service's requirements, a rootfs in artifacts.rootfs. `editSbom` and `editManifest` change either afterwards (then both are signed as they are).
 */
export async function craftSbomBundle(
  key: openpgp.PrivateKey,
  o: { name: string; version?: string; components: SbomComponent[]; editSbom?: (bom: CdxBom) => void; editManifest?: (m: Manifest) => void },
): Promise<Buffer> {
  const files: Array<{ path: string; data: Buffer; kind: EntryKind }> = [];
  const packages: Array<{ name: string; version: string; architecture: string }> = [];
  let requirements = '';
  const rootfs: Record<string, { path: string }> = {};
  const mirrors: Record<string, { suites: string[]; packages: typeof packages }> = {};
  const components = o.components.map((c) => {
    if (c.path === undefined) return c;
    const data = Buffer.from(`${c.path}\n`);
    const sha256 = sha256Hex(data);
    files.push({ path: c.path, data, kind: KIND_OF[c.path.split('/')[0]!] ?? 'file' });
    const purl = c.purl === undefined ? undefined : PackageURL.fromString(c.purl);
    const mirror = /^mirrors\/([^/]+)\/debian\//.exec(c.path)?.[1];
    const debs = mirror === undefined ? packages : (mirrors[mirror] ??= { suites: ['bookworm'], packages: [] }).packages;
    if (purl?.type === 'deb') debs.push({ name: purl.name, version: purl.version!, architecture: purl.qualifiers!.arch! });
    if (purl?.type === 'pypi') requirements += `${c.name}==${purl.version} \\\n    --hash=sha256:${sha256}\n`;
    if (c.path.startsWith('rootfs/')) rootfs[c.name] = { path: c.path };
    return { ...c, sha256 };
  });
  const version = o.version ?? '1.0.0';
  let sbom = writeCycloneDx({ name: o.name, version, epoch: new Date('2026-11-25T00:00:00Z'), services: {}, components });
  if (o.editSbom) {
    const bom = JSON.parse(sbom.toString('utf8')) as CdxBom;
    o.editSbom(bom);
    sbom = Buffer.from(JSON.stringify(bom, null, 2) + '\n');
  }
  const all = [...files, { path: 'sbom.cdx.json', data: sbom, kind: 'sbom' as const }].sort((a, b) => (a.path < b.path ? -1 : 1));
  const m = manifestFor(all, {
    name: o.name,
    version,
    artifacts: {
      ...(packages.length > 0 && { apt: { suite: 'bookworm', packages } }),
      ...(requirements && { python: { services: { app: { requirements } } } }),
      ...(Object.keys(rootfs).length > 0 && { rootfs }),
      ...(Object.keys(mirrors).length > 0 && { mirror: { apt: mirrors } }),
    },
  });
  for (const e of m.entries) e.kind = all.find((f) => f.path === e.path)!.kind;
  o.editManifest?.(m);
  return craftBundle(m, key, all);
}
