import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '../../src/bundle/manifest.js';
import { parseChallenge } from '../../src/sources/image/createRegistryClient.js';
import { parseImageDocument } from '../../src/sources/image/imageDocument.js';
import { imagePlatforms } from '../../src/sources/image/imagePlatforms.js';
import { parseImageRef } from '../../src/sources/image/parseImageRef.js';
import { reduceIndex } from '../../src/sources/image/reduceIndex.js';
import { Spec } from '../../src/specfile/schema.js';
import { canonicalJson } from '../../src/util/canonicalJson.js';
import { manifestFor } from '../helpers/craft.js';

const digest = (c: string) => `sha256:${createHash('sha256').update(c).digest('hex')}`;
const image = { ref: 'registry.example/team/app:1.4', registry: 'registry.example', repository: 'team/app', tag: '1.4', digest: digest('m'), mediaType: 'application/vnd.oci.image.manifest.v1+json', services: ['web'] };
const withImages = (images: unknown[]): Buffer => Buffer.from(canonicalJson({ ...manifestFor([{ path: 'files/a', data: Buffer.from('a') }]), artifacts: { image: { images } } } as Manifest));

describe('manifest.artifacts.image in a signed manifest (hostile input)', () => {
  it('reads the images a bundle carries', () => {
    expect(parseManifest(withImages([image]), 'x').artifacts.image).toEqual({ images: [image] });
  });
  it.each([
    ['a repository that climbs out of the served tree', { repository: '../../etc', ref: 'registry.example/../../etc:1.4' }],
    ['a repository with upper case or a leading slash', { repository: '/Team/app', ref: 'registry.example//Team/app:1.4' }],
    ['a tag that is an option', { tag: '-rm', ref: 'registry.example/team/app:-rm' }],
    ['a tag with a slash', { tag: 'a/b', ref: 'registry.example/team/app:a/b' }],
    ['a registry with a path or spaces', { registry: 'evil host', ref: 'evil host/team/app:1.4' }],
    ['a digest that is not sha256', { digest: 'md5:abc' }],
    ['a ref that names another image than its parts', { ref: 'registry.example/other/app:1.4' }],
    ['a service name that is a path', { services: ['../x'] }],
  ])('refuses %s', (_, change) => {
    expect(() => parseManifest(withImages([{ ...image, ...change }]), 'x')).toThrow(/does not match format/);
  });
});

describe('image references in a spec', () => {
  it('splits a full reference, with or without a pinned digest', () => {
    expect(parseImageRef('registry.example:5000/team/app:1.4', 'x')).toEqual({ name: 'registry.example:5000/team/app:1.4', registry: 'registry.example:5000', repository: 'team/app', tag: '1.4' });
    const d = digest('x');
    expect(parseImageRef(`localhost/app:1@${d}`, 'x')).toMatchObject({ name: 'localhost/app:1', digest: d });
  });
  it.each([
    ['nginx:1.25', /does not name its registry/],
    ['library/nginx:1.25', /does not name its registry/],
    ['registry.example/team/app', /has no tag/],
    ['registry.example/Team/app:1', /invalid repository/],
    ['registry.example/team/app:.hidden', /invalid tag/],
    ['registry.example/team/app:1@sha256:abc', /invalid digest/],
    // docker, podman and skopeo read these as docker.io/library/nginx; ferry would ask Docker Hub for "nginx"
    // and serve it as nginx, where hosts ask for library/nginx
    ['docker.io/nginx:1.25', /names a Docker Hub image without its namespace: write docker\.io\/library\/nginx:1\.25/],
    ['index.docker.io/nginx:1.25', /names a Docker Hub image without its namespace: write docker\.io\/library\/nginx:1\.25/],
  ])('refuses %s', (ref, why) => {
    expect(() => parseImageRef(ref, 'services.web.artifacts.images[0]')).toThrow(why);
  });
  it('defaults the platforms to the Debian architectures', () => {
    const spec = Spec.parse({ name: 'x', version: '1', epoch: '2026-11-25T00:00:00Z', targets: { debian: { suite: 'bookworm', architectures: ['arm64', 'armhf', 'amd64'] } } });
    expect(imagePlatforms(spec, undefined, 'x')).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    expect(imagePlatforms(spec, ['linux/s390x'], 'x')).toEqual(['linux/s390x']);
  });
});

describe('reducing a multi-platform index', () => {
  const entry = (arch: string, variant?: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(arch + (variant ?? '')), size: 10, platform: { architecture: arch, os: 'linux', ...(variant && { variant }) }, annotations: { keep: 'me' } });
  const upstream = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry('amd64'), entry('arm', 'v6'), entry('arm', 'v7'), entry('arm64', 'v8')], annotations: { created: 'x' } }));
  const doc = parseImageDocument(upstream, 'x');
  if (doc.kind !== 'index') throw new Error('an index');

  it('keeps the entries for the platforms, in order, with every other field as served', () => {
    const r = reduceIndex(upstream, doc, ['linux/arm64', 'linux/arm/v7'], 'x');
    expect(r.reduced).toBe(true);
    expect(JSON.parse(r.bytes.toString())).toEqual({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry('arm', 'v7'), entry('arm64', 'v8')], annotations: { created: 'x' } });
    expect(r.digest).toBe(`sha256:${createHash('sha256').update(r.bytes).digest('hex')}`);
    // the same input gives the same bytes
    expect(reduceIndex(upstream, doc, ['linux/arm64', 'linux/arm/v7'], 'x').bytes.equals(r.bytes)).toBe(true);
  });
  it('keeps the upstream bytes when every entry is wanted', () => {
    const r = reduceIndex(upstream, doc, ['linux/amd64', 'linux/arm', 'linux/arm64'], 'x');
    expect(r.reduced).toBe(false);
    expect(r.bytes).toBe(upstream);
  });
  it('refuses an image that offers none of the platforms, naming what it offers', () => {
    expect(() => reduceIndex(upstream, doc, ['linux/s390x'], 'registry.example/a:1')).toThrow(/offers linux\/amd64, linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\/v8, none of linux\/s390x/);
  });
  it('names a few of what a hostile index offers, each cut short, not 20000 platforms of 100 characters in one line', () => {
    const many = Array.from({ length: 20000 }, (_, i) => ({ ...entry('amd64'), platform: { os: `${'x'.repeat(100)}${i}`, architecture: 'amd64' } }));
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: many }));
    const hostile = parseImageDocument(bytes, 'x');
    if (hostile.kind !== 'index') throw new Error('an index');
    let message = '';
    try {
      reduceIndex(bytes, hostile, ['linux/amd64'], 'registry.example/a:1');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^registry\.example\/a:1: the image offers x{60}…, x{60}…, .* and 19992 more, none of linux\/amd64;/);
    expect(message.length).toBeLessThan(1000);
  });
});

describe('image documents from an upstream', () => {
  it('refuses Docker schema 1 and layers that live elsewhere', () => {
    expect(() => parseImageDocument(Buffer.from(JSON.stringify({ schemaVersion: 1, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' })), 'x')).toThrow(/schema 1 is not supported/);
    const foreign = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('c'), size: 1 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest('l'), size: 1, urls: ['https://elsewhere.example/l'] }] };
    expect(() => parseImageDocument(Buffer.from(JSON.stringify(foreign)), 'x')).toThrow(/outside the registry/);
  });
  it('reads the auth challenges registries send', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"')).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a:pull' } });
    expect(parseChallenge('Basic realm="ferry-test"')).toEqual({ scheme: 'basic', params: { realm: 'ferry-test' } });
  });
});
