import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { makeUpstream } from '../git/helpers.js';

type Lock = { format: string; name: string; version: string; kinds: Record<string, any> };

/**
 * A lock is reviewed text a hostile author may have edited: `build --locked` may follow its pins, never
 * its choices of names, paths, folders or hosts the spec did not make. Each refusal is one line, exit 65,
 * before anything is fetched or written.
 */
describe('build --locked with a hostile lock', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  let spec: string;
  let good: Lock;
  let hostile: Server;
  let hits = 0;
  let hostilePort = 0;
  let upstreamCommits: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-lock-'));
    key = await writeKey(dir, 'team');
    upstreamCommits = (await makeUpstream(join(dir, 'up'))).commits;
    await writeFile(join(dir, 'payload.txt'), 'payload\n');
    await mkdir(join(dir, 'tree/etc'), { recursive: true });
    await writeFile(join(dir, 'tree/etc/motd'), 'hello\n');
    await mkdir(join(dir, 'secrets'));
    await writeFile(join(dir, 'secrets/id_ed25519'), 'PRIVATE KEY\n');
    spec = join(dir, 'spec.yaml');
    await writeFile(
      spec,
      [
        'name: probe',
        'version: 1.0.0',
        'epoch: 2026-01-01T00:00:00Z',
        'rootfs:',
        '  base: { directory: { path: tree } }',
        'services:',
        '  app:',
        '    version: "1"',
        '    groups: [app]',
        '    artifacts:',
        '      files: [{ src: payload.txt }]',
        '      git: [{ url: up, ref: main, name: app }]',
        '      rootfs: [base]',
        '',
      ].join('\n'),
    );
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(0);
    good = JSON.parse(await readFile(join(dir, 'spec.lock.json'), 'utf8'));
    hostile = createServer((_req, res) => {
      hits++;
      res.writeHead(500).end();
    });
    await new Promise<void>((res) => hostile.listen(0, '127.0.0.1', res));
    hostilePort = (hostile.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((res) => hostile?.close(res));
    await rm(dir, { recursive: true, force: true });
  });

  /** every file under dir, relative */
  async function tree(): Promise<string[]> {
    return (await readdir(dir, { recursive: true })).filter((p) => !p.startsWith('cache') && !p.startsWith('up/')).sort();
  }

  async function buildWith(lock: Lock, specFile = spec) {
    await writeFile(specFile.replace(/\.yaml$/, '.lock.json'), JSON.stringify(lock));
    const before = await tree();
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
    const r = await ferry(['build', specFile, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
    const after = await tree();
    return { ...r, written: after.filter((p) => !before.includes(p) && !p.startsWith('out-') && !p.endsWith('.lock.json')), out: await readdir(out).catch(() => []) };
  }

  const edited = (edit: (l: Lock) => void): Lock => {
    const l = structuredClone(good);
    edit(l);
    return l;
  };

  function expectRefused(r: Awaited<ReturnType<typeof buildWith>>, pattern: RegExp) {
    expect(r.code, r.stderr).toBe(65);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
    expect(r.written).toEqual([]);
    expect(r.out).toEqual([]);
  }

  it('builds with the lock as ferry lock wrote it', async () => {
    const r = await buildWith(good);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out).toEqual(['probe-1.0.0.ferry']);
  });

  it('refuses a git name that leads outside the build folder, and writes nothing there', async () => {
    const r = await buildWith(edited((l) => (l.kinds.git[0].name = '../../../../../../..' + dir + '/ESCAPED')));
    expectRefused(r, /^ferry: lock: git\[0\] is .*ESCAPED.*the spec gives .*"name":"app"/);
    expect(r.written.filter((p) => p.includes('ESCAPED'))).toEqual([]);
  });

  it('refuses a git URL, ref or depth the spec does not give, and a commit that is not an id', async () => {
    expectRefused(await buildWith(edited((l) => (l.kinds.git[0].url = 'ext::sh -c touch% /tmp/x'))), /^ferry: lock: git\[0\]/);
    expectRefused(await buildWith(edited((l) => (l.kinds.git[0].depth = 0))), /^ferry: lock: git\[0\]/);
    expectRefused(await buildWith(edited((l) => (l.kinds.git[0].commit = '--upload-pack=touch /tmp/x'))), /^ferry: lock: git app: commit .* is not a full git commit id/);
    expectRefused(await buildWith(edited((l) => l.kinds.git.push({ ...l.kinds.git[0], name: 'second' }))), /^ferry: lock: the git section has 2 entries, the spec gives 1/);
  });

  it('refuses a git commit other than the one a spec\'s ref that is a commit id names', async () => {
    const gitSpec = join(dir, 'git-commit.yaml');
    const pinned = upstreamCommits[2]!;
    await writeFile(gitSpec, `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      git: [{ url: up, ref: ${pinned}, name: pinned }]\n`);
    const r = await ferry(['lock', gitSpec, '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(0);
    const locked: Lock = JSON.parse(await readFile(join(dir, 'git-commit.lock.json'), 'utf8'));
    expect(locked.kinds.git[0].commit).toBe(pinned);
    const built = await buildWith(locked, gitSpec);
    expect(built.code, built.stderr).toBe(0);
    const other = structuredClone(locked);
    other.kinds.git[0].commit = upstreamCommits[4]!;
    expectRefused(await buildWith(other, gitSpec), new RegExp(`^ferry: lock: git pinned: commit ${upstreamCommits[4]} is not the commit the spec's ref names \\(${pinned}\\); run ferry lock again and review the diff$`));
  });

  it('refuses a files entry whose bundle path or source the spec does not give, or whose hash is not a sha256', async () => {
    expectRefused(await buildWith(edited((l) => (l.kinds.files[0].path = 'files/app/../../../x'))), /^ferry: lock: files\[0\]/);
    expectRefused(await buildWith(edited((l) => (l.kinds.files[0].src = '/etc/hostname'))), /^ferry: lock: files\[0\]/);
    expectRefused(await buildWith(edited((l) => (l.kinds.files[0].src = `http://127.0.0.1:${hostilePort}/x`))), /^ferry: lock: files\[0\]/);
    expectRefused(await buildWith(edited((l) => (l.kinds.files[0].sha256 = 'abc'))), /^ferry: lock: files files\/app\/payload.txt: sha256 and size/);
    expectRefused(await buildWith(edited((l) => (l.kinds.files[0].size = -1))), /^ferry: lock: files files\/app\/payload.txt: sha256 and size/);
    expectRefused(await buildWith(edited((l) => (l.kinds.files = { __proto__: [] }))), /^ferry: lock: the files section is not a list/);
  });

  it('refuses a files entry whose sha256 is the file\'s but whose size is not (67, one line, nothing written)', async () => {
    const r = await buildWith(edited((l) => (l.kinds.files[0].size += 1)));
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([expect.stringMatching(/^ferry: payload\.txt changed since it was locked: .*size 8.*the lock says .*size 9/)]);
    expect(r.written).toEqual([]);
    expect(r.out).toEqual([]);
  });

  it('refuses a rootfs entry that packs another folder of the build machine', async () => {
    const r = await buildWith(edited((l) => (l.kinds.rootfs[0].path = join(dir, 'secrets'))));
    expectRefused(r, /^ferry: lock: rootfs\[0\] is .*secrets.*the spec gives .*"path":"tree"/);
    expectRefused(
      await buildWith(edited((l) => (l.kinds.rootfs[0] = { name: 'base', services: ['app'], type: 'mmdebstrap', suite: '--customize-hook=touch /tmp/x', architecture: 'amd64', variant: 'minbase', packages: [], compress: 'gzip' }))),
      /^ferry: lock: rootfs\[0\]/,
    );
  });

  it('refuses a lock that leaves out a kind the spec uses, or names a kind ferry does not have', async () => {
    expectRefused(await buildWith(edited((l) => delete l.kinds.git)), /^ferry: lock: the spec names git artifacts, but the lock has no git section/);
    expectRefused(
      await buildWith(edited((l) => (l.kinds = JSON.parse(JSON.stringify({ files: l.kinds.files, rootfs: l.kinds.rootfs }).replace(/^\{/, '{"__proto__":{"git":[]},'))))),
      /^ferry: lock: unknown artifact kind "__proto__"/,
    );
  });

  it('refuses a lock with a section of a kind the spec does not use, before anything is fetched', async () => {
    const image = { ref: 'registry.example/team/app:1', source: `http://127.0.0.1:${hostilePort}`, platforms: ['linux/amd64'], services: ['app'], digest: `sha256:${'a'.repeat(64)}`, size: 10, mediaType: 'application/vnd.oci.image.manifest.v1+json', manifests: [], blobs: [] };
    hits = 0;
    const r = await buildWith(edited((l) => (l.kinds.image = { images: [image] })));
    expectRefused(r, /^ferry: lock: kinds.image is in the lock, but the spec names no image artifacts; run ferry lock again and review the diff$/);
    expect(r.stderr).not.toMatch(/collecting/);
    expectRefused(await buildWith(edited((l) => (l.kinds.mirror = { apt: {} }))), /^ferry: lock: kinds.mirror is in the lock, but the spec names no mirror artifacts/);
    expect(hits).toBe(0);
  });

  it('refuses an image source on another host than the spec names, before any request (the registry login would go there)', async () => {
    const imageSpec = join(dir, 'image.yaml');
    await writeFile(
      imageSpec,
      `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nupstreams:\n  images:\n    registries:\n      registry.example: { url: "http://127.0.0.1:1" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      images: [{ ref: "registry.example/team/app:1", platforms: [linux/amd64] }]\n`,
    );
    const digest = `sha256:${'a'.repeat(64)}`;
    const image = { ref: 'registry.example/team/app:1', source: `http://127.0.0.1:${hostilePort}`, platforms: ['linux/amd64'], services: ['app'], digest, size: 10, mediaType: 'application/vnd.oci.image.manifest.v1+json', manifests: [], blobs: [] };
    hits = 0;
    const r = await buildWith({ format: 'ferry-lock/1', name: 'probe', version: '1.0.0', kinds: { image: { images: [image] } } }, imageSpec);
    expectRefused(r, /^ferry: lock: images\[0\] is .*127\.0\.0\.1:\d+.*the spec gives .*"source":"http:\/\/127\.0\.0\.1:1"/);
    expect(hits).toBe(0);
  });

  it('refuses an apt suite that leads outside the build folder and a priority that adds lines to the Packages index', async () => {
    const aptSpec = join(dir, 'apt.yaml');
    await writeFile(
      aptSpec,
      `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\ntargets: { debian: { suite: bookworm, architectures: [amd64] } }\nupstreams:\n  apt: [{ uri: "http://127.0.0.1:${hostilePort}/debian", keyring: team.asc }]\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      apt: [hello]\n`,
    );
    const deb = { name: 'hello', version: '1.0', architecture: 'amd64', url: `http://127.0.0.1:${hostilePort}/hello.deb`, size: 10, sha256: 'b'.repeat(64), services: ['app'] };
    const apt = { suite: 'bookworm', component: 'main', architectures: ['amd64'], sources: [], packages: [deb] };
    const lock = (a: object): Lock => ({ format: 'ferry-lock/1', name: 'probe', version: '1.0.0', kinds: { apt: a } });
    hits = 0;
    expectRefused(await buildWith(lock({ ...apt, suite: '../../../../ESCAPED' }), aptSpec), /^ferry: lock: apt publishes .*ESCAPED.*the spec gives .*bookworm/);
    expectRefused(await buildWith(lock({ ...apt, packages: [{ ...deb, priority: 'optional\nPackage: evil' }] }), aptSpec), /^ferry: lock: apt.*priority/);
    expectRefused(await buildWith(lock({ ...apt, packages: [{ ...deb, url: 'ftp://127.0.0.1/hello.deb' }] }), aptSpec), /^ferry: lock: apt.*url/);
    expectRefused(await buildWith(lock({ ...apt, packages: [{ ...deb, sha256: 'b'.repeat(63) }] }), aptSpec), /^ferry: lock: apt.*sha256/);
    expectRefused(await buildWith(lock({ ...apt, packages: [{ ...deb, url: 'http://127.0.0.1:1/debian/pool/hello.deb' }] }), aptSpec), /^ferry: lock: apt: "http:\/\/127\.0\.0\.1:1\/debian\/pool\/hello\.deb" is not a file of an upstream the spec names/);
    expectRefused(await buildWith(lock({ ...apt, packages: [{ ...deb, url: `http://127.0.0.1:${hostilePort}/debian/../elsewhere/hello.deb` }] }), aptSpec), /^ferry: lock: apt: .* is not a file of an upstream the spec names/);
    expectRefused(await buildWith(lock({ ...apt, packages: [{ ...deb, size: 1e300 }] }), aptSpec), /^ferry: lock: apt.*size/);
    expectRefused(await buildWith(lock({ ...apt, packages: [{ ...deb, url: `http://127.0.0.1:${hostilePort}/debian/hello.deb`, services: ['app', 'other'] }] }), aptSpec), /^ferry: lock: apt: hello 1\.0 is for service "other", which lists no apt packages in the spec; run ferry lock again and review the diff$/);
    expect(hits).toBe(0);
  });

  it('refuses a lock without the apt section of a spec whose services list apt packages (a bundle without them would build)', async () => {
    const aptSpec = join(dir, 'apt-missing.yaml');
    await writeFile(
      aptSpec,
      `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\ntargets: { debian: { suite: bookworm, architectures: [amd64] } }\nupstreams:\n  apt: [{ uri: "http://127.0.0.1:${hostilePort}/debian", keyring: team.asc }]\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      apt: [hello]\n      files: [{ src: payload.txt }]\n`,
    );
    const files = good.kinds.files;
    hits = 0;
    expectRefused(
      await buildWith({ format: 'ferry-lock/1', name: 'probe', version: '1.0.0', kinds: { files } }, aptSpec),
      /^ferry: lock: the spec names apt artifacts, but the lock has no apt section; run ferry lock again and review the diff$/,
    );
    expect(hits).toBe(0);
  });

  it('refuses mirror names the spec does not give and a mirror suite outside the spec', async () => {
    const mirrorSpec = join(dir, 'mirror.yaml');
    await writeFile(
      mirrorSpec,
      `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nmirrors:\n  apt:\n    deb: { uri: "http://127.0.0.1:${hostilePort}/debian", keyring: team.asc, suites: [bookworm] }\n`,
    );
    const section = { suites: [{ suite: 'bookworm', date: '2026-01-01T00:00:00.000Z' }], components: ['main'], architectures: ['amd64'], sources: [], packages: [] };
    const lock = (apt: object): Lock => ({ format: 'ferry-lock/1', name: 'probe', version: '1.0.0', kinds: { mirror: { apt } } });
    hits = 0;
    expectRefused(await buildWith(lock({ '../../ESCAPED': section }), mirrorSpec), /^ferry: lock: the apt mirrors are \["..\/..\/ESCAPED"\], the spec names \["deb"\]/);
    expectRefused(await buildWith(lock({ deb: { ...section, suites: [{ suite: '../../../ESCAPED', date: section.suites[0]!.date }] } }), mirrorSpec), /^ferry: lock: mirrors.apt.deb: suite "..\/..\/..\/ESCAPED" is not one the spec names/);
    expectRefused(await buildWith(lock({ deb: { ...section, components: ['main/../../x'] } }), mirrorSpec), /^ferry: lock: mirrors.apt.deb: component/);
    expectRefused(await buildWith(lock({ deb: { ...section, components: [] } }), mirrorSpec), /^ferry: lock: mirrors\.apt\.deb: the lock publishes the components \[\], the spec gives \["main"\]; run ferry lock again and review the diff$/);
    expectRefused(await buildWith(lock({ deb: { ...section, architectures: [] } }), mirrorSpec), /^ferry: lock: mirrors\.apt\.deb: the lock publishes the architectures \[\], the spec gives \["amd64"\]; run ferry lock again and review the diff$/);
    const deb = { name: 'hello', version: '1.0', architecture: 'amd64', suite: 'bookworm', component: 'main', url: 'http://127.0.0.1:1/debian/pool/hello.deb', size: 10, sha256: 'b'.repeat(64) };
    expectRefused(await buildWith(lock({ deb: { ...section, packages: [deb] } }), mirrorSpec), /^ferry: lock: mirrors.apt.deb: .* is not a file of an upstream the spec names/);
    expect(hits).toBe(0);
  });

  it('refuses an apt or apt mirror file URL that leads past the upstream once parsed or decoded (%2e%2e, backslash, %2f), before any request', async () => {
    const up = `http://127.0.0.1:${hostilePort}/debian`;
    const aptSpec = join(dir, 'apt-encoded.yaml');
    await writeFile(
      aptSpec,
      `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\ntargets: { debian: { suite: bookworm, architectures: [amd64] } }\nupstreams:\n  apt: [{ uri: "${up}", keyring: team.asc }]\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      apt: [hello]\n`,
    );
    const mirrorSpec = join(dir, 'mirror-encoded.yaml');
    await writeFile(mirrorSpec, `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nmirrors:\n  apt:\n    deb: { uri: "${up}", keyring: team.asc, suites: [bookworm] }\n`);
    // a lock pins source packages only for a spec with `sources: true` (refused otherwise, exit 65)
    const mirrorSourcesSpec = join(dir, 'mirror-encoded-sources.yaml');
    await writeFile(mirrorSourcesSpec, `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nmirrors:\n  apt:\n    deb: { uri: "${up}", keyring: team.asc, suites: [bookworm], sources: true }\n`);
    const deb = { name: 'hello', version: '1.0', architecture: 'amd64', size: 10, sha256: 'b'.repeat(64) };
    const section = { suites: [{ suite: 'bookworm', date: '2026-01-01T00:00:00.000Z' }], components: ['main'], architectures: ['amd64'], sources: [] };
    const lock = (kinds: object): Lock => ({ format: 'ferry-lock/1', name: 'probe', version: '1.0.0', kinds });
    hits = 0;
    for (const url of [`${up}/%2e%2e/elsewhere/hello.deb`, `${up}/pool/%2E%2e/.%2e/elsewhere/hello.deb`, `${up}/pool\\..\\..\\elsewhere\\hello.deb`, `${up}/pool/..%2f..%2felsewhere/hello.deb`]) {
      expectRefused(await buildWith(lock({ apt: { suite: 'bookworm', component: 'main', architectures: ['amd64'], sources: [], packages: [{ ...deb, url, services: ['app'] }] } }), aptSpec), /^ferry: lock: apt: .* is not a file of an upstream the spec names \(http:\/\/127\.0\.0\.1:\d+\/debian\): .*\(package hello 1\.0 amd64\); run ferry lock again and review the diff$/);
      expectRefused(await buildWith(lock({ mirror: { apt: { deb: { ...section, packages: [{ ...deb, url, suite: 'bookworm', component: 'main' }] } } } }), mirrorSpec), /^ferry: lock: mirrors\.apt\.deb: .* is not a file of an upstream the spec names .*\(package hello 1\.0 amd64\)/);
      const source = { name: 'hello', version: '1.0', suite: 'bookworm', component: 'main', files: [{ name: 'hello_1.0.dsc', size: 10, sha256: 'c'.repeat(64), url }] };
      expectRefused(await buildWith(lock({ mirror: { apt: { deb: { ...section, packages: [], sourcePackages: [source] } } } }), mirrorSourcesSpec), /^ferry: lock: mirrors\.apt\.deb: .* is not a file of an upstream the spec names .*\(source package hello 1\.0, file hello_1\.0\.dsc\)/);
    }
    expect(hits).toBe(0);
  });

  it('refuses python pins whose version would add an option line to the requirements hosts install', async () => {
    const pySpec = join(dir, 'py.yaml');
    await writeFile(join(dir, 'requirements.txt'), 'six==1.16.0\n');
    await writeFile(pySpec, `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      python: { requirements: requirements.txt }\n`);
    const sha = 'c'.repeat(64);
    const file = { project: 'six', version: '1.16.0', filename: 'six-1.16.0-py2.py3-none-any.whl', url: `http://127.0.0.1:${hostilePort}/six.whl`, sha256: sha, size: 10, kind: 'wheel', services: ['app'] };
    const python = (version: string) => ({
      index: `http://127.0.0.1:${hostilePort}/simple/`,
      target: { version: '3.11', implementation: 'cp', platforms: ['manylinux_2_17_x86_64'] },
      files: [file],
      services: { app: { requirements: 'requirements.txt', pins: [{ name: 'six', version, hashes: [sha], filename: file.filename }] } },
    });
    hits = 0;
    const r = await buildWith({ format: 'ferry-lock/1', name: 'probe', version: '1.0.0', kinds: { python: python('1.16.0 \\\n--index-url http://127.0.0.1:1/') } }, pySpec);
    expectRefused(r, /^ferry: lock file, section kinds.python: services.app.pins\[0\].version: a version/);
    expect(hits).toBe(0);
  });

  it('refuses a spec whose URLs that the bundle records carry a login, without printing it (exit 65)', async () => {
    const credSpec = join(dir, 'cred.yaml');
    await writeFile(
      credSpec,
      [
        'name: probe',
        'version: 1.0.0',
        'epoch: 2026-01-01T00:00:00Z',
        'rootfs:',
        `  base: { tarball: { src: "https://u:tarball-pass@127.0.0.1:${hostilePort}/x.tar.gz", sha256: "${'0'.repeat(64)}" } }`,
        'services:',
        '  app:',
        '    version: "1"',
        '    groups: [app]',
        '    artifacts:',
        `      files: [{ src: "http://user:file-pass@127.0.0.1:${hostilePort}/payload.txt", sha256: "${'0'.repeat(64)}" }]`,
        `      git: [{ url: "https://token-as-user@127.0.0.1:${hostilePort}/repo.git", ref: main, name: r }]`,
        '      rootfs: [base]',
        '',
      ].join('\n'),
    );
    hits = 0;
    const r = await ferry(['lock', credSpec, '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr).toMatch(/files\[0\]\.src: a URL with a login in it/);
    expect(r.stderr).toMatch(/git\[0\]\.url: a URL with a login in it/);
    expect(r.stderr).toMatch(/rootfs\.base\.tarball\.src: a URL with a login in it/);
    expect(r.stderr).not.toMatch(/pass|token-as-user/);
    expect(existsSync(join(dir, 'cred.lock.json'))).toBe(false);
    expect(hits).toBe(0);
  });

  it('refuses a python lock that adds a package, a hash or another index to what the requirements pin', async () => {
    const pySpec = join(dir, 'py2.yaml');
    const sha = 'd'.repeat(64);
    const evilSha = 'e'.repeat(64);
    await writeFile(join(dir, 'req2.txt'), `six==1.16.0 --hash=sha256:${sha}\n`);
    await writeFile(
      pySpec,
      `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\ntargets:\n  python: { version: "3.11", platforms: [manylinux_2_36_x86_64] }\nupstreams:\n  python: { index: "http://127.0.0.1:${hostilePort}/simple/" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      python: { requirements: req2.txt }\n`,
    );
    const six = { project: 'six', version: '1.16.0', filename: 'six-1.16.0-py2.py3-none-any.whl', url: `http://127.0.0.1:${hostilePort}/six.whl`, sha256: sha, size: 10, kind: 'wheel', services: ['app'] };
    const evil = { project: 'evil', version: '1.0', filename: 'evil-1.0-py3-none-any.whl', url: `http://127.0.0.1:${hostilePort}/evil.whl`, sha256: evilSha, size: 10, kind: 'wheel', services: ['app'] };
    const target = { version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] };
    const pin = (p: typeof six) => ({ name: p.project, version: p.version, hashes: [p.sha256], filename: p.filename });
    const lock = (python: object): Lock => ({ format: 'ferry-lock/1', name: 'probe', version: '1.0.0', kinds: { python } });
    const base = { index: `http://127.0.0.1:${hostilePort}/simple/`, target, files: [six], services: { app: { requirements: 'req2.txt', pins: [pin(six)] } } };
    hits = 0;
    expectRefused(await buildWith(lock({ ...base, files: [evil, six], services: { app: { requirements: 'req2.txt', pins: [pin(evil), pin(six)] } } }), pySpec), /^ferry: lock: python services.app\[0\]/);
    expectRefused(await buildWith(lock({ ...base, files: [{ ...six, sha256: evilSha }], services: { app: { requirements: 'req2.txt', pins: [{ ...pin(six), hashes: [evilSha] }] } } }), pySpec), /^ferry: lock: python services.app\[0\]/);
    expectRefused(await buildWith(lock({ ...base, index: 'http://127.0.0.1:1/simple/' }), pySpec), /^ferry: lock: python\[0\]/);
    expectRefused(await buildWith(lock({ ...base, files: [{ ...six, size: 1e300 }] }), pySpec), /^ferry: lock file, section kinds.python: files\[0\].size/);
    expect(hits).toBe(0);
  });

  it('refuses a python lock file that no requirement pins, or one fetched from where the index could not link, before any request', async () => {
    const pySpec = join(dir, 'py3.yaml');
    const sha = 'd'.repeat(64);
    await writeFile(join(dir, 'req3.txt'), `six==1.16.0 --hash=sha256:${sha}\n`);
    await writeFile(
      pySpec,
      `name: probe\nversion: 1.0.0\nepoch: 2026-01-01T00:00:00Z\ntargets:\n  python: { version: "3.11", platforms: [manylinux_2_36_x86_64] }\nupstreams:\n  python: { index: "http://127.0.0.1:${hostilePort}/simple/" }\nservices:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      python: { requirements: req3.txt }\n`,
    );
    const six = { project: 'six', version: '1.16.0', filename: 'six-1.16.0-py2.py3-none-any.whl', url: `http://127.0.0.1:${hostilePort}/files/six-1.16.0-py2.py3-none-any.whl`, sha256: sha, size: 10, kind: 'wheel', services: ['app'] };
    const target = { version: '3.11', implementation: 'cp', platforms: ['manylinux_2_36_x86_64'] };
    const base = { index: `http://127.0.0.1:${hostilePort}/simple/`, target, files: [six], services: { app: { requirements: 'req3.txt', pins: [{ name: 'six', version: '1.16.0', hashes: [sha], filename: six.filename }] } } };
    const lock = (python: object): Lock => ({ format: 'ferry-lock/1', name: 'probe', version: '1.0.0', kinds: { python } });
    hits = 0;
    const evil = { project: 'evilpkg', version: '6.6', filename: 'evilpkg-6.6-py3-none-any.whl', url: `file://${dir}/secrets/evilpkg-6.6-py3-none-any.whl`, sha256: 'e'.repeat(64), size: 10, kind: 'wheel', services: ['app'] };
    expectRefused(await buildWith(lock({ ...base, files: [six, evil] }), pySpec), /^ferry: lock: python file evilpkg-6\.6-py3-none-any\.whl \(evilpkg 6\.6\) is installed by no requirement of the spec \(no service pins it\); run ferry lock again and review the diff$/);
    expectRefused(await buildWith(lock({ ...base, files: [six, { ...six, filename: 'six-1.15.0-py2.py3-none-any.whl', version: '1.15.0' }] }), pySpec), /^ferry: lock: python file six-1\.15\.0-py2\.py3-none-any\.whl \(six 1\.15\.0\) is installed by no requirement/);
    expectRefused(await buildWith(lock({ ...base, files: [{ ...six, url: `file://${dir}/secrets/${six.filename}` }] }), pySpec), /^ferry: lock: python: six-1\.16\.0-py2\.py3-none-any\.whl is fetched from "file:.*", a file: URL, which a page of the index .* may not link to; run ferry lock again and review the diff$/);
    expectRefused(await buildWith(lock({ ...base, files: [{ ...six, url: `http://127.0.0.1:${hostilePort}/simple/%2e%2e/files/${six.filename}` }] }), pySpec), /^ferry: lock: python: six-1\.16\.0-py2\.py3-none-any\.whl is fetched from .*, which is not a URL as ferry lock writes them/);
    expect(hits).toBe(0);
  });

  it.each(['null', '[]', '"ferry-lock/1"'])('refuses a lock that is JSON %s as not a lock file (exit 65), not an internal error', async (text) => {
    const name = `shape-${text.replace(/\W/g, '') || 'x'}`;
    const other = join(dir, `${name}.yaml`);
    await writeFile(other, await readFile(spec, 'utf8'));
    await writeFile(join(dir, `${name}.lock.json`), text);
    const r = await ferry(['build', other, '--locked', '--key', key.secret, '--out', join(dir, `out-${name}`), '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr).toMatch(/not a ferry-lock\/1 file/);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toHaveLength(1);
  });

  it('refuses a lock in which one object has a key twice (the review reads one pin, the build would take the other)', async () => {
    const other = join(dir, 'dup.yaml');
    await writeFile(other, await readFile(spec, 'utf8'));
    const text = JSON.stringify(good, null, 2);
    const commit = good.kinds.git[0].commit as string;
    const escaped = '"\\u0063ommit"';
    for (const [i, doubled] of [
      text.replace(`"commit": "${commit}"`, `"commit": "${'0'.repeat(40)}",\n        "commit": "${commit}"`),
      text.replace(`"commit": "${commit}"`, `"commit": "${'0'.repeat(40)}",\n        ${escaped}: "${commit}"`),
    ].entries()) {
      expect(doubled).not.toBe(text);
      await writeFile(join(dir, 'dup.lock.json'), doubled);
      const out = join(dir, `out-dup-${i}`);
      const r = await ferry(['build', other, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
      expect(r.code, r.stderr).toBe(65);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([expect.stringMatching(/dup\.lock\.json: not a lock file \(an object has the key "commit" twice/)]);
      expect(await readdir(out).catch(() => [])).toEqual([]);
    }
  });

  it('refuses a lock that is not a regular file (a symlink to /dev/zero, a FIFO) at once, without reading it', async () => {
    for (const [name, make] of [
      ['zero', (p: string) => symlink('/dev/zero', p)],
      ['fifo', async (p: string) => expect((await run('mkfifo', [p])).code).toBe(0)],
    ] as const) {
      const other = join(dir, `${name}.yaml`);
      await writeFile(other, await readFile(spec, 'utf8'));
      await make(join(dir, `${name}.lock.json`));
      const out = join(dir, `out-${name}`);
      const r = await ferry(['build', other, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
      expect(r.code, r.stderr).toBe(65);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([`ferry: ${join(dir, `${name}.lock.json`)} is not a regular file: not a lock file`]);
      expect(await readdir(out).catch(() => [])).toEqual([]);
    }
  });

  it('refuses a lock nested a million levels deep as not a lock file', async () => {
    const deep = join(dir, 'deep.yaml');
    await writeFile(deep, (await readFile(spec, 'utf8')));
    await writeFile(join(dir, 'deep.lock.json'), `{"format":"ferry-lock/1","name":"probe","version":"1.0.0","kinds":{"files":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}}`);
    const r = await ferry(['build', deep, '--locked', '--key', key.secret, '--out', join(dir, 'out-deep'), '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toHaveLength(1);
  });
});
