import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ArtifactKind, BuildContext, KindResult } from '../kind.js';
import { FerryError, IntegrityError, SpecError } from '../../errors.js';
import { fetchToCache } from '../../fetch/fetchToCache.js';
import { buildMmdebstrap } from './buildMmdebstrap.js';
import { detectCompression, TAR_SUFFIX, type TarCompression } from './detectCompression.js';
import { packDirectory } from './packDirectory.js';
import { writeCompressed, type Compression } from './writeCompressed.js';
import { readDpkgStatus } from './readDpkgStatus.js';
import type { SbomComponent } from '../../sbom/sbomComponent.js';
import { debPurl } from '../../sbom/purl.js';
import { lockEntries, lockMatchesSpec } from '../../specfile/lockMatchesSpec.js';

export type RootfsLockEntry = { name: string; services: string[] } & (
  // paths as the spec writes them: relative ones stay relative to the spec, so the lock moves with it
  | { type: 'directory'; path: string; compress: Compression; level?: number }
  | { type: 'tarball'; src: string; sha256: string }
  | { type: 'mmdebstrap'; suite: string; architecture: string; variant: string; packages: string[]; compress: Compression; level?: number }
);
export type RootfsLock = RootfsLockEntry[];

/** What manifest.artifacts.rootfs records per root filesystem. */
export interface RootfsArtifactInfo {
  path: string;
  source: 'directory' | 'tarball' | 'mmdebstrap';
  compression: TarCompression;
  sha256: string;
  size: number;
  services: string[];
}

const isUrl = (s: string) => /^https?:\/\//.test(s);

/**
 * The `rootfs` artifact kind: the spec's top-level `rootfs: {NAME: {directory | tarball | mmdebstrap}}`,
 * used by services through `artifacts.rootfs: [NAME]`. Each becomes rootfs/NAME.tar.gz (or .tar.zst,
 * .tar.xz; a given tarball keeps its own compression).
 */
export const rootfsKind: ArtifactKind<RootfsLock> = {
  name: 'rootfs',
  uses: ['apt'],

  async lock(ctx: BuildContext): Promise<RootfsLock | undefined> {
    const names = Object.keys(ctx.spec.rootfs).sort();
    const users = new Map<string, string[]>(names.map((n) => [n, []]));
    for (const [service, svc] of Object.entries(ctx.spec.services).sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const n of svc.artifacts.rootfs) {
        const list = users.get(n);
        if (!list) {
          throw new SpecError(`services.${service}.artifacts.rootfs names "${n}", which the spec's rootfs section does not define (defined: ${names.join(', ') || 'none'})`);
        }
        if (!list.includes(service)) list.push(service);
      }
    }
    if (names.length === 0) return undefined;
    const lock: RootfsLock = [];
    for (const name of names) {
      const r = ctx.spec.rootfs[name]!;
      const services = users.get(name)!;
      if ('directory' in r) {
        await checkFolder(resolve(ctx.baseDir, r.directory.path), name);
        lock.push({ name, services, type: 'directory', path: r.directory.path, compress: r.directory.compress, ...(r.directory.level !== undefined && { level: r.directory.level }) });
      } else if ('tarball' in r) {
        lock.push({ name, services, type: 'tarball', src: r.tarball.src, sha256: r.tarball.sha256 });
      } else {
        const debian = ctx.spec.targets.debian;
        if (!debian) throw new SpecError(`rootfs.${name}.mmdebstrap needs targets.debian (suite and architectures) and the apt artifacts it installs from`);
        const m = r.mmdebstrap;
        lock.push({
          name,
          services,
          type: 'mmdebstrap',
          suite: debian.suite,
          architecture: m.architecture ?? debian.architectures[0]!,
          variant: m.variant,
          packages: [...m.packages].sort(),
          compress: m.compress,
          ...(m.level !== undefined && { level: m.level }),
        });
      }
    }
    return lock;
  },

  async collect(section: RootfsLock, ctx: BuildContext, used): Promise<KindResult> {
    // every field of a rootfs lock entry is the spec's (the lock pins nothing the spec leaves open): a
    // hand-edited one could pack another folder of the build machine, give mmdebstrap an option as its
    // suite or name a file outside the build's folder
    const lock = lockEntries('rootfs', section) as unknown as RootfsLock;
    lockMatchesSpec('rootfs', (await rootfsKind.lock(ctx)) ?? [], lock);
    const entries: KindResult['entries'] = [];
    const artifacts: Record<string, RootfsArtifactInfo> = {};
    const components: SbomComponent[] = [];
    for (const r of lock) {
      const label = `rootfs ${r.name}`;
      let file: string;
      let compression: TarCompression;
      let sum: { sha256: string; size: number };
      /** this build wrote the file and hashed it as it did (BundleInput.verified) */
      let verified = true;
      let installed: SbomComponent[] | undefined;
      if (r.type === 'tarball') {
        // the spec's sha256 is the pin: the downloader refuses other bytes before they reach the cache
        const got = await fetchToCache({ url: isUrl(r.src) ? r.src : resolve(ctx.baseDir, r.src), sha256: r.sha256, label: `${label} (${r.src})` }, { cacheDir: ctx.cacheDir, log: ctx.log }).catch((err: unknown) => {
          if (err instanceof IntegrityError) throw new IntegrityError(`${label}: ${err.message} If the new tarball is the one you trust, put its sha256 in rootfs.${r.name}.tarball.sha256.`, { cause: err });
          throw err;
        });
        file = got.path;
        compression = await detectCompression(file, `${label} (${r.src})`);
        sum = { sha256: got.sha256, size: got.size };
        verified = !got.fromCache;
      } else {
        compression = r.compress;
        file = join(ctx.workDir, 'rootfs', `${r.name}${TAR_SUFFIX[compression]}`);
        if (r.type === 'directory') {
          const folder = resolve(ctx.baseDir, r.path);
          await checkFolder(folder, r.name);
          ctx.log.info(`${label}: packing ${folder}`);
          sum = await writeCompressed((out) => packDirectory(folder, out, { epoch: ctx.epoch, log: ctx.log }), file, r.compress, r.level);
        } else {
          const apt = used?.apt;
          if (!apt) throw new FerryError(`${label}: mmdebstrap installs from the bundle's apt repository, but this build has none; list the packages under a service's artifacts.apt`);
          const publicKey = (await ctx.signingKeys())[0]?.toPublic().armor();
          if (!publicKey) throw new FerryError(`${label}: mmdebstrap needs the bundle key that signs the apt repository`);
          ctx.log.info(`${label}: mmdebstrap ${r.variant} ${r.suite} ${r.architecture}`);
          const statusOut = join(ctx.workDir, 'rootfs', `${r.name}.dpkg-status`);
          sum = await buildMmdebstrap({
            statusOut,
            aptEntries: apt.entries,
            publicKey,
            suite: r.suite,
            architecture: r.architecture,
            variant: r.variant,
            packages: r.packages,
            epoch: ctx.epoch,
            dest: file,
            compress: r.compress,
            ...(r.level !== undefined && { level: r.level }),
            scratch: join(ctx.workDir, 'scratch'),
            log: ctx.log,
          });
          installed = installedComponents(await readDpkgStatus(statusOut), apt.components ?? [], `rootfs/${r.name}${TAR_SUFFIX[compression]}`, r.suite);
        }
      }
      const path = `rootfs/${r.name}${TAR_SUFFIX[compression]}`;
      // hashed once, as it was written or downloaded; an older cache entry is hashed again as it is packed
      entries.push({ path, file, kind: 'rootfs', services: r.services, known: sum, verified });
      artifacts[r.name] = { path, source: r.type, compression, sha256: sum.sha256, size: sum.size, services: r.services };
      components.push({
        ref: path,
        type: r.type === 'mmdebstrap' ? 'operating-system' : 'file',
        name: r.name,
        sha256: sum.sha256,
        path,
        services: r.services,
        properties: [{ name: 'ferry:rootfs:source', value: r.type }],
        ...(installed && { contains: installed }),
      });
    }
    return { entries, artifacts, components };
  },
};

/**
 * The Debian packages installed in an mmdebstrap rootfs, as components inside it: the same packages the
 * bundle's apt repository carries (mmdebstrap installs from nothing else), so each takes that one's
 * purl (distro: the suite it was built from, the apt repository's), sha256 and source; its ref is made
 * unique by the rootfs path.
 */
function installedComponents(installed: Array<{ name: string; version: string; architecture: string }>, debs: readonly SbomComponent[], rootfsPath: string, suite: string): SbomComponent[] {
  const byPurl = new Map(debs.map((d) => [d.purl, d]));
  return installed.map((i) => {
    const purl = debPurl(i.name, i.version, i.architecture, suite);
    const carried = byPurl.get(purl);
    return {
      ref: `${rootfsPath}#${purl}`,
      type: 'library',
      name: i.name,
      version: i.version,
      purl,
      ...(carried?.sha256 && { sha256: carried.sha256 }),
      services: [],
      properties: carried?.properties ?? [{ name: 'ferry:deb:architecture', value: i.architecture }],
    };
  });
}

async function checkFolder(path: string, name: string): Promise<void> {
  const s = await stat(path).catch(() => undefined);
  if (!s?.isDirectory()) throw new SpecError(`rootfs.${name}.directory.path: ${path} is not a folder; give the folder the root filesystem is in`);
}
