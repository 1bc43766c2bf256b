import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { FORMAT, type Manifest, type ManifestEntry } from '../../src/bundle/manifest.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { craftBundle } from './craft.js';
import { ferry, run } from './cli.js';
import { startServer, type TestServer } from '../serve/startServer.js';
import { writeRelease, type FixtureService } from '../deploy/storeFixture.js';

/**
 * Test images made locally with umoci (no registry, no network), laid out the way a bundle carries
 * them (the image kind's format): one OCI image layout under oci/, each blob once, index.json naming
 * every image by its full original reference (org.opencontainers.image.ref.name) and its services
 * (io.ferry.services), and manifest.artifacts.image.images listing them.
 */

/** A one-image OCI layout written by hand (no umoci): a config, a layer, a manifest naming them; `content` tells it apart. */
export async function handMadeLayout(dir: string, content: string): Promise<string> {
  const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, content }));
  const layer = Buffer.from(`layer of ${content}`);
  const desc = (mediaType: string, data: Buffer) => ({ mediaType, digest: `sha256:${sha256Hex(data)}`, size: data.length });
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [desc('application/vnd.oci.image.layer.v1.tar', layer)] }));
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of [config, layer, manifest]) await writeFile(join(dir, 'blobs', 'sha256', sha256Hex(b)), b);
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [desc(OCI_MANIFEST, manifest)] }));
  return dir;
}

export interface FixtureImage {
  /** full reference with tag, e.g. registry.example/team/app:1.4 */
  ref: string;
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  size: number;
  services: string[];
  /** an upstream OCI layout holding just this image under the tag `upstream` (for skopeo inspect oci:DIR:upstream) */
  upstream: string;
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A single-platform image with one layer holding `files`, as an OCI layout at DIR under tag `upstream`. */
export async function umociImage(dir: string, arch: string, files: Record<string, string | Buffer>): Promise<{ layout: string; digest: string; size: number }> {
  const layout = join(dir, 'layout');
  const root = join(dir, 'root');
  await sh('umoci', ['init', '--layout', layout]);
  await sh('umoci', ['new', '--image', `${layout}:upstream`]);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), content);
    await sh('umoci', ['insert', '--image', `${layout}:upstream`, join(root, name), `/${name}`]);
  }
  await sh('umoci', ['config', '--image', `${layout}:upstream`, '--architecture', arch, '--os', 'linux', '--config.cmd', '/bin/true', '--history.created', '2026-11-25T00:00:00Z', '--created', '2026-11-25T00:00:00Z']);
  await sh('umoci', ['gc', '--layout', layout]);
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number }> };
  return { layout, digest: index.manifests[0]!.digest, size: index.manifests[0]!.size };
}

/** Two platforms of one image under an OCI image index (written into the first layout, tag `upstream`). */
export async function multiPlatformImage(dir: string, files: Record<string, string | Buffer>): Promise<{ layout: string; digest: string; size: number; children: string[] }> {
  const amd = await umociImage(join(dir, 'amd64'), 'amd64', files);
  const arm = await umociImage(join(dir, 'arm64'), 'arm64', { ...files, arch: 'arm64\n' });
  const layout = join(dir, 'layout');
  await cp(amd.layout, layout, { recursive: true });
  await cp(join(arm.layout, 'blobs'), join(layout, 'blobs'), { recursive: true, force: true });
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd.digest, size: amd.size, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: arm.digest, size: arm.size, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    }),
  );
  const digest = `sha256:${sha256Hex(index)}`;
  await writeFile(join(layout, 'blobs', 'sha256', digest.slice(7)), index);
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': 'upstream' } }] }));
  return { layout, digest, size: index.length, children: [amd.digest, arm.digest] };
}

export interface ImageBundleInput {
  ref: string;
  services: string[];
  /** an OCI layout whose index.json's first manifest is the image */
  layout: string;
}

/** Changes oci/index.json's descriptors before the bundle is signed (a layout that disagrees with manifest.artifacts.image). */
export type IndexEdit = (descriptors: Array<{ mediaType: string; digest: string; size: number; annotations: Record<string, string> }>) => unknown[];

/** An IndexEdit that has index.json name image A by reference B and image B by reference A. */
export const swapRefNames =
  (a: string, b: string): IndexEdit =>
  (descriptors) =>
    descriptors.map((d) => {
      const name = d.annotations['org.opencontainers.image.ref.name'];
      return { ...d, annotations: { ...d.annotations, 'org.opencontainers.image.ref.name': name === a ? b : name === b ? a : name } };
    });

/** The files of a bundle's OCI layout (oci/...) and the manifest section for `images`. */
export async function ociLayoutEntries(images: ImageBundleInput[], editIndex?: IndexEdit): Promise<{ files: Array<{ path: string; data: Buffer; services: string[] }>; images: FixtureImage[] }> {
  const blobs = new Map<string, { data: Buffer; services: Set<string> }>();
  const out: FixtureImage[] = [];
  const descriptors = [];
  for (const img of images) {
    const index = JSON.parse(await readFile(join(img.layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number; mediaType: string }> };
    const top = index.manifests[0]!;
    for (const name of await readdir(join(img.layout, 'blobs', 'sha256'))) {
      const b = blobs.get(name) ?? { data: await readFile(join(img.layout, 'blobs', 'sha256', name)), services: new Set<string>() };
      img.services.forEach((s) => b.services.add(s));
      blobs.set(name, b);
    }
    const m = /^([^/]+)\/(.+):([^:/]+)$/.exec(img.ref)!;
    out.push({ ref: img.ref, registry: m[1]!, repository: m[2]!, tag: m[3]!, digest: top.digest, mediaType: top.mediaType, size: top.size, services: img.services, upstream: img.layout });
    descriptors.push({ mediaType: top.mediaType, digest: top.digest, size: top.size, annotations: { 'io.ferry.services': img.services.join(','), 'org.opencontainers.image.ref.name': img.ref } });
  }
  const files = [
    { path: 'oci/oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}'), services: [] as string[] },
    { path: 'oci/index.json', data: Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: editIndex ? editIndex(descriptors) : descriptors })), services: [] as string[] },
    ...[...blobs].map(([hex, b]) => ({ path: `oci/blobs/sha256/${hex}`, data: b.data, services: [...b.services].sort() })),
  ];
  return { files, images: out };
}

/** A signed bundle file carrying `images` (plus `extra` manifest fields, e.g. services with steps). */
export async function writeImageBundle(file: string, key: openpgp.PrivateKey, images: ImageBundleInput[], extra: Partial<Manifest> & { name: string; version: string }, alter?: (files: Array<{ path: string; data: Buffer }>) => void, editIndex?: IndexEdit): Promise<FixtureImage[]> {
  const layout = await ociLayoutEntries(images, editIndex);
  const entries: ManifestEntry[] = layout.files
    .map((f) => ({ path: f.path, size: f.data.length, sha256: sha256Hex(f.data), kind: 'image' as const, services: f.services }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const manifest: Manifest = {
    format: FORMAT,
    epoch: '2026-11-25T00:00:00.000Z',
    created_by: 'test',
    targets: {},
    services: {},
    entries,
    ...extra,
    artifacts: { image: { images: layout.images.map(({ ref, registry, repository, tag, digest, mediaType, services }) => ({ ref, registry, repository, tag, digest, mediaType, services })) }, ...(extra.artifacts ?? {}) },
  };
  const tarFiles = [...layout.files].sort((a, b) => (a.path < b.path ? -1 : 1));
  alter?.(tarFiles);
  await writeFile(file, await craftBundle(manifest, key, tarFiles));
  return layout.images;
}

/**
 * A release carrying `images` written straight into `store` (test/deploy/storeFixture.ts), without import:
 * what a store holds when its layout's index.json was edited by `editIndex` and no import checked it (an
 * earlier ferry's import did not): for tests of what deploy does with such a release.
 */
export async function writeImageRelease(store: string, images: ImageBundleInput[], release: { name: string; version: string; services: Record<string, FixtureService> }, editIndex?: IndexEdit): Promise<FixtureImage[]> {
  const layout = await ociLayoutEntries(images, editIndex);
  writeRelease(store, {
    ...release,
    extra: layout.files.map((f) => ({ path: f.path, content: f.data, kind: 'image' as const, services: f.services })),
    artifacts: { image: { images: layout.images.map(({ ref, registry, repository, tag, digest, mediaType, services }) => ({ ref, registry, repository, tag, digest, mediaType, services })) } },
  });
  return layout.images;
}

/** Import a signed image bundle into `store` (it must be accepted) and serve the store from this process. */
export async function importAndServe(bundle: string, keyring: string, store: string): Promise<TestServer> {
  const r = await ferry(['import', bundle, '--keyring', keyring, '--store', store]);
  if (r.code !== 0) throw new Error(`ferry import exited ${r.code}: ${r.stderr}`);
  return startServer(store);
}
