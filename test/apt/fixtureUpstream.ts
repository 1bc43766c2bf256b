import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { clearsign, signDetached } from '../../src/pgp/sign.js';
import { sha256Hex } from '../../src/util/sha256.js';

/** One fixture package, built for real with dpkg-deb. */
export interface FixtureDeb {
  name: string;
  version: string;
  arch?: string;
  depends?: string;
  preDepends?: string;
  recommends?: string;
  provides?: string;
  conflicts?: string;
  breaks?: string;
  replaces?: string;
  suggests?: string;
  /** true for `yes`, or the field's text as written (`Yes`, `YES`: apt reads yes/no in any case) */
  important?: boolean | string;
  multiArch?: string;
  priority?: string;
  section?: string;
  essential?: boolean | string;
  source?: string;
}

/** Build a small .deb with dpkg-deb (its control lists what the fixture says; it ships one doc file). */
export async function buildDeb(dir: string, d: FixtureDeb): Promise<string> {
  const root = join(dir, 'src', `${d.name}_${d.version}`);
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await mkdir(join(root, 'usr/share/doc', d.name), { recursive: true });
  await writeFile(join(root, 'usr/share/doc', d.name, 'README'), `${d.name} ${d.version}\n`);
  const fields: Array<[string, string | undefined]> = [
    ['Package', d.name],
    ['Source', d.source],
    ['Version', d.version],
    ['Architecture', d.arch ?? 'amd64'],
    ['Multi-Arch', d.multiArch],
    ['Essential', typeof d.essential === 'string' ? d.essential : d.essential ? 'yes' : undefined],
    ['Important', typeof d.important === 'string' ? d.important : d.important ? 'yes' : undefined],
    ['Priority', d.priority ?? 'optional'],
    ['Section', d.section],
    ['Maintainer', 'Ferry Tests <tests@example.invalid>'],
    ['Pre-Depends', d.preDepends],
    ['Depends', d.depends],
    ['Recommends', d.recommends],
    ['Suggests', d.suggests],
    ['Conflicts', d.conflicts],
    ['Breaks', d.breaks],
    ['Replaces', d.replaces],
    ['Provides', d.provides],
    ['Description', `fixture package ${d.name}\n A package built by ferry's tests.`],
  ];
  await writeFile(join(root, 'DEBIAN/control'), fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}\n`).join(''));
  const out = join(dir, 'debs', `${d.name}_${d.version.replace(/^\d+:/, '')}_${d.arch ?? 'amd64'}.deb`);
  await mkdir(join(dir, 'debs'), { recursive: true });
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, out], { stdio: 'pipe' });
  return out;
}

/**
 * Build a small source package for real with `dpkg-source -b`: "3.0 (native)" for a version without a
 * revision, else "3.0 (quilt)" with an .orig tarball made once per upstream version (later revisions
 * reuse it, as in Debian). Returns the files of the .dsc, the .dsc first.
 */
export async function buildSource(dir: string, s: { name: string; version: string; binaries?: string[] }): Promise<string[]> {
  const upstreamVersion = s.version.replace(/-[^-]*$/, '');
  const native = upstreamVersion === s.version;
  const out = join(dir, 'srcpkg');
  const tree = join(out, `${s.name}-${upstreamVersion}`);
  await rm(tree, { recursive: true, force: true });
  await mkdir(join(tree, 'debian/source'), { recursive: true });
  await writeFile(join(tree, 'README'), `${s.name} ${upstreamVersion}\n`);
  const orig = join(out, `${s.name}_${upstreamVersion}.orig.tar.gz`);
  if (!native && !(await stat(orig).catch(() => undefined))) execFileSync('tar', ['-C', out, '-czf', orig, `${s.name}-${upstreamVersion}/README`]);
  const binaries = (s.binaries ?? [s.name]).map((b) => `\nPackage: ${b}\nArchitecture: amd64\nDescription: fixture ${b}\n built by ferry's tests\n`);
  await writeFile(join(tree, 'debian/control'), `Source: ${s.name}\nMaintainer: Ferry Tests <tests@example.invalid>\nStandards-Version: 4.6.2\n${binaries.join('')}`);
  await writeFile(join(tree, 'debian/changelog'), `${s.name} (${s.version}) fixture; urgency=low\n\n  * Fixture.\n\n -- Ferry Tests <tests@example.invalid>  Wed, 25 Nov 2026 00:00:00 +0000\n`);
  await writeFile(join(tree, 'debian/source/format'), native ? '3.0 (native)\n' : '3.0 (quilt)\n');
  execFileSync('dpkg-source', ['-b', `${s.name}-${upstreamVersion}`], { cwd: out, stdio: 'pipe' });
  const dsc = join(out, `${s.name}_${s.version}.dsc`);
  const listed = /^Files:\n((?: .+\n?)+)/m.exec(await readFile(dsc, 'utf8'))![1]!.trim().split('\n').map((l) => join(out, l.trim().split(/\s+/)[2]!));
  return [dsc, ...listed];
}

/**
 * Lay out an upstream repository the way Debian's archive does, with Debian's own tools:
 * pool/main/*.deb, Packages from `apt-ftparchive packages`, compressed as asked, a Release from
 * `apt-ftparchive release`, signed as InRelease (clearsigned) and Release.gpg with `key`.
 */
export async function writeUpstream(
  root: string,
  debs: string[],
  opts: { suite: string; key: openpgp.PrivateKey; arch?: string; compress?: Array<'gz' | 'xz' | 'plain'>; inRelease?: boolean; sources?: string[] },
): Promise<void> {
  const arch = opts.arch ?? 'amd64';
  await mkdir(join(root, 'pool/main'), { recursive: true });
  for (const d of debs) await copyFile(d, join(root, 'pool/main', d.split('/').pop()!));
  const packages = execFileSync('apt-ftparchive', ['packages', 'pool/main'], { cwd: root, maxBuffer: 1 << 28 });
  const bin = join(root, 'dists', opts.suite, 'main', `binary-${arch}`);
  await mkdir(bin, { recursive: true });
  const compress = opts.compress ?? ['gz'];
  if (opts.sources) {
    // source packages (buildSource's files) beside the .debs, indexed by `apt-ftparchive sources`
    for (const f of opts.sources) await copyFile(f, join(root, 'pool/main', f.split('/').pop()!));
    const sources = execFileSync('apt-ftparchive', ['sources', 'pool/main'], { cwd: root, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
    await mkdir(join(root, 'dists', opts.suite, 'main/source'), { recursive: true });
    await writeFile(join(root, 'dists', opts.suite, 'main/source/Sources.gz'), gzipSync(sources));
    await writeFile(join(root, 'dists', opts.suite, 'main/source/Sources'), sources);
  }
  // Like Debian's archive, Release lists the uncompressed Packages (and Sources) even when only compressed
  // files are served: apt ignores an index whose uncompressed form has no hash.
  await writeFile(join(bin, 'Packages'), packages);
  if (compress.includes('gz')) await writeFile(join(bin, 'Packages.gz'), gzipSync(packages));
  if (compress.includes('xz')) await writeFile(join(bin, 'Packages.xz'), execFileSync('xz', ['-c'], { input: packages }));
  const release = execFileSync(
    'apt-ftparchive',
    ['-o', `APT::FTPArchive::Release::Suite=${opts.suite}`, '-o', `APT::FTPArchive::Release::Codename=${opts.suite}`, '-o', `APT::FTPArchive::Release::Architectures=${arch}`, '-o', 'APT::FTPArchive::Release::Components=main', 'release', '.'],
    { cwd: join(root, 'dists', opts.suite) },
  ).toString('utf8');
  if (!compress.includes('plain')) await rm(join(bin, 'Packages'));
  if (opts.sources) await rm(join(root, 'dists', opts.suite, 'main/source/Sources'));
  await signRelease(join(root, 'dists', opts.suite), release, opts.key, opts.inRelease ?? true);
}

/** (Re-)sign a Release text as Release + Release.gpg and, unless told not to, InRelease. */
export async function signRelease(distDir: string, release: string, key: openpgp.PrivateKey, inRelease = true): Promise<void> {
  const date = new Date();
  await writeFile(join(distDir, 'Release'), release);
  await writeFile(join(distDir, 'Release.gpg'), await signDetached(Buffer.from(release), [key], date));
  if (inRelease) await writeFile(join(distDir, 'InRelease'), await clearsign(release, [key], date));
}

/** A static file server on 127.0.0.1 (HEAD and GET, 404 for anything missing or outside root); counts requests per path. */
export async function serveDir(root: string): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const file = normalize(join(root, path));
    if (!file.startsWith(normalize(root + '/'))) return void res.writeHead(404).end();
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-length': st.size });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

export async function readPrivate(armored: string): Promise<openpgp.PrivateKey> {
  return openpgp.readPrivateKey({ armoredKey: armored });
}

export function sha256OfFile(path: string): Promise<string> {
  return readFile(path).then(sha256Hex);
}

export async function listDebs(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.deb')).sort();
}
