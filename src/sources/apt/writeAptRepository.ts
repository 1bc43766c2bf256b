import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type * as openpgp from 'openpgp';
import pMap from 'p-map';
import { IntegrityError, UsageError } from '../../errors.js';
import { formatParagraph, type Paragraph } from './parseControl.js';
import { readDebControl } from './readDebControl.js';
import { checkSourcePackage, type SourceFile } from './readSourcesIndex.js';
import { sourceStanza } from './sourceStanza.js';
import { readDebControlsCached } from './debControlCache.js';
import { sha256Hex } from '../../util/sha256.js';

export interface AptRepositoryDeb {
  /** the .deb on disk (usually in the download cache) */
  file: string;
  /** known digest and size (from the lock); computed when absent */
  sha256?: string;
  size?: number;
  /** Priority from the upstream index, which overrides the .deb's control (as Debian's archive overrides do) */
  priority?: string;
  /** the component it is published in (a mirror keeps the upstream's); default: the repository's component */
  component?: string;
}

/** One source package to publish: every file of its .dsc (the .dsc among them), on disk. */
export interface AptRepositorySource {
  name: string;
  version: string;
  /** default: the repository's component */
  component?: string;
  files: Array<SourceFile & { file: string }>;
}

export interface AptRepositoryOptions {
  /** folder that becomes the bundle's `apt/` (dists/ and the index files are written here) */
  outDir: string;
  suite: string;
  codename?: string;
  /** the Release's Suite when it is not the folder's name (a mirror repeats its upstream's: stable for dists/bookworm) */
  releaseSuite?: string;
  component?: string;
  /** every component the Release lists (each gets its indexes, empty or not); default: [component] */
  components?: string[];
  architectures: string[];
  debs: AptRepositoryDeb[];
  /** source packages; when given (even empty), every component gets source/Sources(.gz) */
  sources?: AptRepositorySource[];
  /** the Release Date (the bundle epoch) */
  date: Date;
  /** apt's default pin for the suite as an upstream Release sets it: 1 NotAutomatic, 100 also ButAutomaticUpgrades */
  pin?: 1 | 100;
  /** adds Valid-Until = Date + days; left out by default because bundles wait months before deploys */
  validForDays?: number;
  /**
   * the bundle key(s), asked for once the .debs are being read: loading openpgp (~0.1 s) and reading a key
   * then run beside the hashing (a build passes its context's reader, which usually has them already)
   */
  signingKeys: () => Promise<openpgp.PrivateKey[]>;
  origin?: string;
  label?: string;
  /** concurrency for reading .deb control files */
  jobs?: number;
  /**
   * the download cache the debs' files are entries of, each checked against its `sha256` (all of them
   * given): their control paragraphs are then kept there by digest, each and as the whole list
   * (debControlCache.ts), and read from there the next time
   */
  cacheDir?: string;
}

export interface PublishedPackage {
  name: string;
  version: string;
  architecture: string;
  /** path inside the repository, e.g. pool/main/h/hello/hello_2.10-3_amd64.deb */
  poolPath: string;
  file: string;
  sha256: string;
  size: number;
  /** the .deb's own control paragraph (Source, Depends, Provides...) */
  control: Paragraph;
}

export interface AptRepositoryResult {
  /** generated index files, paths relative to outDir (dists/...) */
  indexes: Array<{ path: string; file: string }>;
  packages: PublishedPackage[];
  /** the source packages' files, each once (versions may share an .orig tarball) */
  sourceFiles: Array<{ poolPath: string; file: string; sha256: string; size: number }>;
}

/**
 * Publish a signed apt repository: pool/ paths for the given .deb files (the files themselves are not
 * copied: the bundle takes them from where they are), Packages and Packages.gz per architecture,
 * Release with SHA256 for every index (compressed and not, as apt requires), InRelease (clearsigned)
 * and Release.gpg (detached, armored). Deterministic: sorted stanzas, gzip without name or mtime, the
 * Release Date and signature time fixed by `date`; same inputs and key give the same bytes.
 */
export async function writeAptRepository(opts: AptRepositoryOptions): Promise<AptRepositoryResult> {
  const component = opts.component ?? 'main';
  const components = [...new Set([...(opts.components ?? [component]), ...opts.debs.map((d) => d.component ?? component)])].sort();
  const archs = [...new Set(opts.architectures)].sort();
  const jobs = opts.jobs ?? 8;
  const allKnown = (debs: AptRepositoryDeb[]): debs is Array<AptRepositoryDeb & { sha256: string; size: number }> =>
    debs.every((d) => d.sha256 !== undefined && d.size !== undefined);
  const reading =
    opts.cacheDir !== undefined && allKnown(opts.debs)
      ? readDebControlsCached(opts.debs, opts.cacheDir, jobs).then((controls) =>
          controls.map((control, i) => {
            const deb = opts.debs[i]!;
            return { deb, control, sha256: deb.sha256!, size: deb.size! };
          }),
        )
      : pMap(
          opts.debs,
          async (deb) => {
            // a digest the lock already knows is not computed again; otherwise one read gives both
            const known = deb.sha256 !== undefined && deb.size !== undefined;
            const { control, sha256, size } = await readDebControl(deb.file, { sha256: !known });
            return { deb, control, sha256: known ? deb.sha256! : sha256!, size: known ? deb.size! : size! };
          },
          { concurrency: jobs },
        );
  // the signing module and the keys load while the .debs are read (started just above)
  const signing = Promise.all([import('../../pgp/sign.js'), opts.signingKeys()]).then(([sign, keys]) => {
    if (keys.length === 0) throw new UsageError('publishing an apt repository needs the bundle signing key (--key)');
    return { sign, keys };
  });
  const [read, { sign, keys }] = await Promise.all([reading, signing]);

  const packages: Array<PublishedPackage & { priority?: string; component: string }> = read.map(({ deb, control, sha256, size }) => {
    const name = control.get('Package') ?? '';
    const version = control.get('Version') ?? '';
    const architecture = control.get('Architecture') ?? '';
    const source = (control.get('Source') ?? name).split(' ')[0]!;
    // these become paths in the bundle: a control file must not steer them anywhere else
    if (!DEB_NAME.test(name) || !DEB_NAME.test(source) || !DEB_VERSION.test(version) || !DEB_ARCH.test(architecture)) {
      throw new IntegrityError(`${deb.file}: control names package "${name}" version "${version}" architecture "${architecture}" source "${source}", which are not valid Debian names; refusing to publish it`);
    }
    const poolPath = `${poolFolder(deb.component ?? component, source)}/${name}_${version.replace(/^\d+:/, '')}_${architecture}.deb`;
    return { name, version, architecture, poolPath, file: deb.file, sha256, size, control, priority: deb.priority, component: deb.component ?? component };
  });
  packages.sort((a, b) => cmp(a.poolPath, b.poolPath));
  for (let i = 1; i < packages.length; i++) {
    const [a, b] = [packages[i - 1]!, packages[i]!];
    if (a.poolPath === b.poolPath && a.sha256 !== b.sha256) {
      throw new IntegrityError(`two different files claim ${a.poolPath} (${a.file} and ${b.file}); publish one version of each package`);
    }
  }
  const unique = packages.filter((p, i) => i === 0 || packages[i - 1]!.poolPath !== p.poolPath);

  const dist = `dists/${opts.suite}`;
  const files = new Map<string, Buffer>();
  for (const comp of components) for (const arch of archs) {
    const stanzas = unique
      .filter((p) => p.component === comp && (p.architecture === arch || p.architecture === 'all'))
      .map((p) => {
        const para: Paragraph = new Map(p.control);
        if (p.priority) para.set('Priority', p.priority);
        para.set('Filename', p.poolPath);
        para.set('Size', String(p.size));
        para.set('SHA256', p.sha256);
        return formatParagraph(para);
      });
    const text = Buffer.from(stanzas.join('\n'), 'utf8');
    files.set(`${comp}/binary-${arch}/Packages`, text);
    files.set(`${comp}/binary-${arch}/Packages.gz`, gzipSync(text, { level: 9 }));
  }

  const sourceFiles = await addSources(opts, components, files);
  const release = releaseText(opts, components, archs, files);
  const signDate = sign.signatureDate(opts.date, keys);
  const inRelease = await sign.clearsign(release, keys, signDate);
  const releaseGpg = await sign.signDetached(Buffer.from(release, 'utf8'), keys, signDate);

  const all = new Map<string, Buffer>([...[...files].map(([k, v]) => [`${dist}/${k}`, v] as const)]);
  all.set(`${dist}/Release`, Buffer.from(release, 'utf8'));
  all.set(`${dist}/InRelease`, Buffer.from(inRelease, 'utf8'));
  all.set(`${dist}/Release.gpg`, Buffer.from(releaseGpg, 'utf8'));
  const indexes: AptRepositoryResult['indexes'] = [];
  for (const [path, data] of [...all].sort(([a], [b]) => cmp(a, b))) {
    const file = join(opts.outDir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, data);
    indexes.push({ path, file });
  }
  return { indexes, packages: unique.map(({ priority: _p, component: _c, ...p }) => p), sourceFiles };
}

/** Debian's pool folder of a source package: pool/COMPONENT/h/hello, pool/COMPONENT/libf/libfoo. */
function poolFolder(component: string, source: string): string {
  const prefix = source.startsWith('lib') && source.length > 3 ? source.slice(0, 4) : source.slice(0, 1);
  return `pool/${component}/${prefix}/${source}`;
}

/**
 * With `opts.sources`: COMPONENT/source/Sources(.gz) for every component into `files`, sorted by
 * package and version; returns the files to publish, each pool path once.
 */
async function addSources(opts: AptRepositoryOptions, components: string[], files: Map<string, Buffer>): Promise<AptRepositoryResult['sourceFiles']> {
  if (!opts.sources) return [];
  const pool = new Map<string, AptRepositoryResult['sourceFiles'][number]>();
  const stanzas = new Map<string, Array<{ key: string; text: string }>>(components.map((c) => [c, []]));
  for (const s of opts.sources) {
    const component = s.component ?? opts.component ?? 'main';
    // the lock is input too: the same refusals as for the upstream's Sources index
    const dir = poolFolder(component, s.name);
    checkSourcePackage({ name: s.name, version: s.version, directory: dir, files: s.files }, `lock, ${component}`);
    for (const f of s.files) {
      const poolPath = `${dir}/${f.name}`;
      const seen = pool.get(poolPath);
      if (seen && seen.sha256 !== f.sha256) throw new IntegrityError(`two different files claim ${poolPath} (${seen.file} and ${f.file}); refusing to publish either`);
      pool.set(poolPath, { poolPath, file: f.file, sha256: f.sha256, size: f.size });
    }
    const list = stanzas.get(component) ?? [];
    list.push({ key: `${s.name} ${s.version}`, text: formatParagraph(await sourceStanza(s, dir)) });
    stanzas.set(component, list);
  }
  for (const [comp, list] of stanzas) {
    const text = Buffer.from(list.sort((a, b) => cmp(a.key, b.key)).map((x) => x.text).join('\n'), 'utf8');
    files.set(`${comp}/source/Sources`, text);
    files.set(`${comp}/source/Sources.gz`, gzipSync(text, { level: 9 }));
  }
  return [...pool.values()].sort((a, b) => cmp(a.poolPath, b.poolPath));
}

const DEB_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const DEB_VERSION = /^(?:\d+:)?[A-Za-z0-9.+~:-]+$/;
const DEB_ARCH = /^[a-z0-9-]+$/;

function releaseText(opts: AptRepositoryOptions, components: string[], archs: string[], files: Map<string, Buffer>): string {
  const lines = [
    `Origin: ${opts.origin ?? 'ferry'}`,
    `Label: ${opts.label ?? opts.origin ?? 'ferry'}`,
    `Suite: ${opts.releaseSuite ?? opts.suite}`,
    `Codename: ${opts.codename ?? opts.suite}`,
    `Date: ${rfc2822(opts.date)}`,
  ];
  if (opts.pin !== undefined) lines.push('NotAutomatic: yes', ...(opts.pin === 100 ? ['ButAutomaticUpgrades: yes'] : []));
  if (opts.validForDays) lines.push(`Valid-Until: ${rfc2822(new Date(opts.date.getTime() + opts.validForDays * 86_400_000))}`);
  lines.push(`Architectures: ${archs.join(' ')}`, `Components: ${components.join(' ')}`, 'SHA256:');
  const width = Math.max(...[...files.values()].map((b) => String(b.length).length));
  for (const [path, data] of [...files].sort(([a], [b]) => cmp(a, b))) {
    lines.push(` ${sha256Hex(data)} ${String(data.length).padStart(width)} ${path}`);
  }
  return lines.join('\n') + '\n';
}

/** "Wed, 25 Nov 2026 00:00:00 UTC", the form apt parses (RFC 2822 in UTC). */
function rfc2822(d: Date): string {
  return d.toUTCString().replace(/GMT$/, 'UTC');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
