import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { FERRY_BIN, run } from '../helpers/cli.js';

/**
 * An OCI image layout (`from: oci:PATH`) is made by someone else: its index.json and manifest blobs are
 * read without trusting them. A blob that is a FIFO, a link to an endless device or a file of gigabytes
 * is refused by what it is and how large it is, before anything is read into memory; the lock ends with
 * one line (exit 70) and writes no lock.
 */
describe('ferry lock refuses a hostile OCI layout by what its files are', () => {
  let dir: string;
  const hex = 'ab'.repeat(32);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-layout-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** a layout whose index names sha256:HEX for the tag app, with `make` deciding what the blob (or index.json) is */
  async function lockWith(name: string, make: (layout: string) => Promise<void>) {
    const base = join(dir, name);
    const layout = join(base, 'lay');
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex}`, size: 300, annotations: { 'org.opencontainers.image.ref.name': 'app' } }] }),
    );
    await make(layout);
    const spec = join(base, 'spec.yaml');
    await writeFile(spec, `name: p\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:1.4", from: "oci:lay:app" }\n`);
    // a read that blocks forever is the defect: timeout ends it, and the exit code (124) fails the test
    const r = await run('timeout', ['30', process.execPath, FERRY_BIN, 'lock', spec, '--cache', join(base, 'cache')]);
    expect(await readdir(base)).not.toContain('spec.lock.json');
    return r;
  }

  const oneLine = (stderr: string) => expect(stderr, stderr).toMatch(/^ferry: [^\n]*\n$/);

  it('a manifest blob of 5 GiB (sparse): refused by its size', async () => {
    const r = await lockWith('huge', async (l) => {
      await writeFile(join(l, 'blobs', 'sha256', hex), '');
      await truncate(join(l, 'blobs', 'sha256', hex), 5 * 1024 ** 3);
    });
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr).toMatch(/manifest sha256:abab[0-9a-f]* is 5368709120 bytes, larger than 4194304 bytes/);
    oneLine(r.stderr);
  });

  it('a manifest blob that is a FIFO: refused, not waited on', async () => {
    const r = await lockWith('fifo', async (l) => void execFileSync('mkfifo', [join(l, 'blobs', 'sha256', hex)]));
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr).toMatch(/manifest sha256:abab[0-9a-f]* is not a regular file/);
    oneLine(r.stderr);
  });

  it('a manifest blob linked to /dev/zero: refused, not read without end', async () => {
    const r = await lockWith('zero', async (l) => symlink('/dev/zero', join(l, 'blobs', 'sha256', hex)));
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr).toMatch(/manifest sha256:abab[0-9a-f]* is not a regular file/);
    oneLine(r.stderr);
  });

  it('a config blob of 0 bytes that is a FIFO (its size matches what a descriptor may say): refused, not waited on', async () => {
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const r = await lockWith('config-fifo', async (l) => {
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${empty}`, size: 0 }, layers: [] });
      const digest = createHash('sha256').update(manifest).digest('hex');
      await writeFile(join(l, 'blobs', 'sha256', digest), manifest);
      execFileSync('mkfifo', [join(l, 'blobs', 'sha256', empty)]);
      await writeFile(join(l, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${digest}`, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'app' } }] }));
    });
    expect(r.code, r.stderr).toBe(69);
    expect(r.stderr).toMatch(new RegExp(`${empty} is not a regular file`));
    oneLine(r.stderr);
  });

  it.each(['null', '[]', '"amd64"'])('a config that is JSON %s, not an object: one line, exit 70, not an internal error', async (config) => {
    const r = await lockWith(`config-${config.replace(/\W/g, '')}`, async (l) => {
      const configDigest = createHash('sha256').update(config).digest('hex');
      await writeFile(join(l, 'blobs', 'sha256', configDigest), config);
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configDigest}`, size: config.length }, layers: [] });
      const digest = createHash('sha256').update(manifest).digest('hex');
      await writeFile(join(l, 'blobs', 'sha256', digest), manifest);
      await writeFile(join(l, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${digest}`, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'app' } }] }));
    });
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr).toMatch(/registry\.example\/team\/app:1\.4: its config sha256:[0-9a-f]{64} is not (JSON|a JSON object)/);
    oneLine(r.stderr);
  });

  it.each([
    ['manifests-not-a-list', '{"manifests":5}'],
    ['null-entry', '{"manifests":[null]}'],
    ['null-index', 'null'],
    ['index-a-list', '[]'],
  ])('an index.json of another shape (%s): one line, exit 70, not an internal error', async (name, index) => {
    const r = await lockWith(`index-${name}`, async (l) => writeFile(join(l, 'index.json'), index));
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr).toMatch(/oci:lay:app: .*index\.json is not an OCI image layout index|the layout has no image tagged "app"/);
    oneLine(r.stderr);
  });

  it('an image index with a field of its own nested 100000 deep (its entries reduced to the targets): one line, exit 70, not an internal error', async () => {
    // JSON.parse reads it; writing the reduced index back (JSON.stringify) ran out of stack
    const r = await lockWith('deep-index', async (l) => {
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${hex}`, size: 2 }, layers: [] });
      const m = createHash('sha256').update(manifest).digest('hex');
      await writeFile(join(l, 'blobs', 'sha256', m), manifest);
      const entry = (architecture: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${m}`, size: manifest.length, platform: { os: 'linux', architecture } });
      const list = JSON.stringify([entry('amd64'), entry('arm64')]);
      const index = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","x":${'['.repeat(100000)}${']'.repeat(100000)},"manifests":${list}}`;
      const digest = createHash('sha256').update(index).digest('hex');
      await writeFile(join(l, 'blobs', 'sha256', digest), index);
      await writeFile(join(l, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${digest}`, size: index.length, annotations: { 'org.opencontainers.image.ref.name': 'app' } }] }));
    });
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr).toMatch(/registry\.example\/team\/app:1\.4 \(sha256:[0-9a-f]{64}\): the image manifest nests deeper than 32 levels/);
    oneLine(r.stderr);
  });

  it('an index.json that is a link to a file outside the layout: refused by where it leads, never read (nothing of the file in the message)', async () => {
    const secret = join(dir, 'outside-secret.txt');
    await writeFile(secret, 'hunter2\n');
    const r = await lockWith('index-outside', async (l) => {
      await rm(join(l, 'index.json'));
      await symlink(secret, join(l, 'index.json'));
    });
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr).toMatch(/oci:lay:app: .*\/lay\/index\.json leads outside the layout folder; ferry reads a layout's index only inside it/);
    expect(r.stderr).not.toContain('hunter2');
    oneLine(r.stderr);
  });

  it('an index.json that is a FIFO or of 5 GiB: refused', async () => {
    const fifo = await lockWith('index-fifo', async (l) => {
      await rm(join(l, 'index.json'));
      execFileSync('mkfifo', [join(l, 'index.json')]);
    });
    expect(fifo.code, fifo.stderr).toBe(70);
    expect(fifo.stderr).toMatch(/index\.json is not a regular file/);
    oneLine(fifo.stderr);
    const huge = await lockWith('index-huge', async (l) => truncate(join(l, 'index.json'), 5 * 1024 ** 3));
    expect(huge.code, huge.stderr).toBe(70);
    expect(huge.stderr).toMatch(/index\.json is 5368709120 bytes, larger than 4194304 bytes/);
    oneLine(huge.stderr);
  });
});

/**
 * A `docker save` archive (`from: docker-archive:PATH`) is made by someone else too: a manifest.json that
 * is not JSON or lists images in other shapes than docker writes is refused with one line (exit 70), never
 * an internal error, and an image is picked only by a tag its RepoTags list holds exactly.
 */
describe('ferry lock refuses a hostile docker save archive', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-archive-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function lockArchive(name: string, manifest: string) {
    const base = join(dir, name);
    await mkdir(join(base, 'arch'), { recursive: true });
    await writeFile(join(base, 'arch', 'c.json'), '{"architecture":"amd64","os":"linux"}');
    await writeFile(join(base, 'arch', 'manifest.json'), manifest);
    execFileSync('tar', ['-cf', join(base, 'a.tar'), '-C', join(base, 'arch'), 'c.json', 'manifest.json']);
    const spec = join(base, 'spec.yaml');
    await writeFile(spec, `name: p\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:1.4", from: "docker-archive:a.tar" }\n`);
    const r = await run('timeout', ['30', process.execPath, FERRY_BIN, 'lock', spec, '--cache', join(base, 'cache')]);
    return { ...r, locked: (await readdir(base)).includes('spec.lock.json') };
  }

  it.each([
    ['not-json', '{"Config":1', /docker-archive:a\.tar: manifest\.json is not JSON/],
    ['tags-not-a-list', '[{"Config":"c.json","Layers":[],"RepoTags":5},{"Config":"c.json","Layers":[]}]', /no image tagged registry\.example\/team\/app:1\.4 among its 2 images/],
    ['null-images', '[null,null]', /no image tagged registry\.example\/team\/app:1\.4 among its 2 images/],
    // a string is no list of tags: "includes" must not find the tag inside a longer one
    ['tags-a-string', '[{"Config":"c.json","Layers":[],"RepoTags":"xregistry.example/team/app:1.4x"},{"Config":"c.json","Layers":[]}]', /no image tagged registry\.example\/team\/app:1\.4 among its 2 images/],
  ])('%s: one line, exit 70, no lock', async (name, manifest, message) => {
    const r = await lockArchive(name, manifest);
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr).toMatch(message);
    expect(r.stderr, r.stderr).toMatch(/^ferry: [^\n]*\n$/);
    expect(r.locked).toBe(false);
  });

  it.each([
    ['the config', 'c.json', /the archive holds c\.json 2 times; which copy is the image's is not clear, so none is used/],
    ['manifest.json', 'manifest.json', /the archive holds manifest\.json 2 times/],
    ['a link the config goes through', 'link.json', /the archive holds link\.json 2 times/],
  ])('an archive holding %s twice (which copy the image is depends on the tool): one line, exit 70, no lock', async (_what, twice, message) => {
    const base = join(dir, `twice-${twice}`);
    await mkdir(join(base, 'first'), { recursive: true });
    await mkdir(join(base, 'second'), { recursive: true });
    const manifest = '[{"Config":"link.json","Layers":[],"RepoTags":["registry.example/team/app:1.4"]}]';
    // the first copy a large config, the second a small one: the second's extraction may finish first
    await writeFile(join(base, 'first', 'c.json'), JSON.stringify({ architecture: 'amd64', os: 'linux', pad: 'x'.repeat(2 << 20) }));
    await writeFile(join(base, 'second', 'c.json'), '{"architecture":"amd64","os":"linux"}');
    await writeFile(join(base, 'first', 'manifest.json'), manifest);
    await writeFile(join(base, 'second', 'manifest.json'), manifest);
    await symlink('c.json', join(base, 'first', 'link.json'));
    await symlink('c.json', join(base, 'second', 'link.json'));
    execFileSync('tar', ['-cf', join(base, 'a.tar'), '-C', join(base, 'first'), 'c.json', 'link.json', 'manifest.json']);
    execFileSync('tar', ['-rf', join(base, 'a.tar'), '-C', join(base, 'second'), twice]);
    const spec = join(base, 'spec.yaml');
    await writeFile(spec, `name: p\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:1.4", from: "docker-archive:a.tar" }\n`);
    const r = await run('timeout', ['60', process.execPath, FERRY_BIN, 'lock', spec, '--cache', join(base, 'cache')]);
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr, r.stderr).toMatch(/^ferry: [^\n]*\n$/);
    expect(r.stderr).toMatch(message);
    expect((await readdir(base)).includes('spec.lock.json')).toBe(false);
  });

  it.each([
    ['a FIFO', (path: string) => void execFileSync('mkfifo', [path])],
    ['a link to /dev/zero', (path: string) => symlink('/dev/zero', path)],
  ])('an archive that is %s: refused by what it is (exit 70, one line), not waited on or read without end', async (what, make) => {
    const base = join(dir, `archive-${what.replace(/\W+/g, '-')}`);
    await mkdir(base, { recursive: true });
    await make(join(base, 'a.tar'));
    const spec = join(base, 'spec.yaml');
    await writeFile(spec, `name: p\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:1.4", from: "docker-archive:a.tar" }\n`);
    // a read that blocks forever is the defect: timeout ends it, and the exit code (124) fails the test
    const r = await run('timeout', ['30', process.execPath, FERRY_BIN, 'lock', spec, '--cache', join(base, 'cache')]);
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr, r.stderr).toMatch(/^ferry: docker-archive:a\.tar: the archive is not a regular file\n$/);
    expect((await readdir(base)).includes('spec.lock.json')).toBe(false);
  });

  it('an archive listing so many layers that the manifest ferry makes for it would be over 4 MiB: one line, exit 70, no lock', async () => {
    // 28000 times the same layer of 100000 bytes: a manifest.json of 220 KiB, an OCI manifest of 4.26 MB
    // (a few bytes over what the layer count alone shows), which ferry build (like registries) refuses
    // to read: the lock must not pin it
    const base = join(dir, 'many-layers');
    await mkdir(join(base, 'arch'), { recursive: true });
    await writeFile(join(base, 'arch', 'c.json'), '{"architecture":"amd64","os":"linux"}');
    await writeFile(join(base, 'arch', 'l.tar'), Buffer.alloc(100000));
    await writeFile(join(base, 'arch', 'manifest.json'), JSON.stringify([{ Config: 'c.json', Layers: Array(28000).fill('l.tar'), RepoTags: ['registry.example/team/app:1.4'] }]));
    execFileSync('tar', ['-cf', join(base, 'a.tar'), '-C', join(base, 'arch'), 'c.json', 'l.tar', 'manifest.json']);
    const spec = join(base, 'spec.yaml');
    await writeFile(spec, `name: p\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  web:\n    version: "1"\n    groups: [web]\n    artifacts:\n      images:\n        - { ref: "registry.example/team/app:1.4", from: "docker-archive:a.tar" }\n`);
    const r = await run('timeout', ['60', process.execPath, FERRY_BIN, 'lock', spec, '--cache', join(base, 'cache')]);
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr, r.stderr).toMatch(/^ferry: [^\n]*\n$/);
    expect(r.stderr).toMatch(/28000 layers, an image manifest of 42\d{5} bytes, more than the 4194304 bytes/);
    expect((await readdir(base)).includes('spec.lock.json')).toBe(false);
  });

  it.each([
    // names the archive does not hold: the refusal names a few, cut short, not all 300 of 200 characters
    ['300 missing layers', 300, 200, /the archive lists "x{100}…" \(and 299 more\) for registry\.example\/team\/app:1\.4 but does not hold them$/],
    // far more layers than an image manifest of 4 MiB can name: refused before the archive is read again
    ['100000 layers', 100000, 0, /registry\.example\/team\/app:1\.4 lists 100000 layers, more than an image manifest of 4194304 bytes can name$/],
  ])('a manifest.json listing %s: one line of a few hundred characters, exit 70, no lock', async (what, n, pad, message) => {
    const layers = Array.from({ length: n }, (_, i) => `${'x'.repeat(pad)}${i}.tar`);
    const r = await lockArchive(`layers-${what.replace(/\W+/g, '-')}`, JSON.stringify([{ Config: 'c.json', Layers: layers, RepoTags: ['registry.example/team/app:1.4'] }]));
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr, r.stderr).toMatch(/^ferry: [^\n]*\n$/);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.stderr.length).toBeLessThan(600);
    expect(r.locked).toBe(false);
  });

  it('the control: the image its RepoTags list names is locked', async () => {
    const r = await lockArchive('control', '[{"Config":"c.json","Layers":[],"RepoTags":["other/x:1"]},{"Config":"c.json","Layers":[],"RepoTags":["registry.example/team/app:1.4"]}]');
    expect(r.code, r.stderr).toBe(0);
    expect(r.locked).toBe(true);
  });
});
