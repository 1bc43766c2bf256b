import { join } from 'node:path';
import type { ArtifactKind, BuildContext, BundleInput } from '../kind.js';
import { ResolveError, SpecError } from '../../errors.js';
import { createFetchStats, fetchMany, freshDigests } from '../../fetch/index.js';
import { indexPackedSources, type PackageIndex } from './buildPackageIndex.js';
import { readUpstreamIndexes } from './readUpstreamIndexes.js';
import { loadAptUpstreams } from './loadAptUpstreams.js';
import { loadAptBase } from './loadAptBase.js';
import { pinDebSha256 } from './pinDebSha256.js';
import { resolveAptClosure, type InstalledPackage } from './resolveAptClosure.js';
import type { AptPackage } from './types.js';
import { checkLockedControls } from './checkLockedControls.js';
import { checkLockedUpstreams, checkSha512 } from './checkLockedInIndexes.js';
import { checkUpstreamUrls, lockedAptFiles, namePinnedDeb, parseAptLock } from './aptLockSchema.js';
import { refuseUnlockable } from '../../specfile/refuseUnlockable.js';

/** One pinned .deb in SPEC.lock.json. */
export interface LockedDeb {
  name: string;
  version: string;
  architecture: string;
  url: string;
  size: number;
  sha256: string;
  /** the archive's Priority (its index overrides the .deb's own control: mmdebstrap's variants select by it) */
  priority?: string;
  /** services whose closure needs it */
  services: string[];
}

export interface AptLock {
  /** the suite published inside the bundle (targets.debian.suite) */
  suite: string;
  component: string;
  architectures: string[];
  /** upstream suites read, with the keys that signed them (for review) */
  sources: Array<{ uri: string; suite: string; signers: string[] }>;
  packages: LockedDeb[];
}

const COMPONENT = 'main';

/**
 * Refuse a request `name:ARCH` for an architecture the bundle does not carry: each architecture's
 * resolution passes it over, so it would lock nothing for it, where apt-get says "Unable to locate
 * package". `:any`, `:native` and `:all` (apt's native architecture) name the package of every target.
 */
function checkRootArchitectures(where: string, roots: readonly string[], architectures: readonly string[]): void {
  for (const root of roots) {
    const qualifier = /^[^:=/]+:([^=/]*)/.exec(root)?.[1];
    if (qualifier === undefined || ['any', 'native', 'all', ...architectures].includes(qualifier)) continue;
    throw new ResolveError(`${where}: ${root} names the architecture ${JSON.stringify(qualifier).slice(0, 40)}, which is not among targets.debian.architectures (${architectures.join(', ')}); apt-get could not locate it either`);
  }
}

/**
 * The apt artifact kind. `lock` reads every configured upstream (verified InRelease, Packages checked
 * against it), resolves each service's packages to their dependency closure per target architecture
 * and pins every .deb; `collect` downloads exactly those into the cache and publishes them as a signed
 * repository under apt/ in the bundle.
 */
export const aptKind: ArtifactKind<AptLock> = {
  name: 'apt',

  async lock(ctx) {
    const services = Object.entries(ctx.spec.services).filter(([, s]) => s.artifacts.apt.length > 0);
    const rootfs = Object.entries(ctx.spec.rootfs).flatMap(([name, r]) => ('mmdebstrap' in r ? [{ name, ...r.mmdebstrap }] : []));
    if (services.length === 0 && rootfs.length === 0) return undefined;
    const debian = ctx.spec.targets.debian;
    if (!debian) throw new SpecError(`the spec needs apt packages (services' artifacts.apt or an mmdebstrap rootfs), but targets.debian (suite, architectures) is not set`);
    if (ctx.spec.upstreams.apt.length === 0) throw new SpecError('services list apt packages, but upstreams.apt names no source (use `- uri: system` for the machine\'s own)');
    const opts = ctx.spec.upstreams.apt_options;
    const stats = createFetchStats(ctx.fetchStats);
    const upstreams = await loadAptUpstreams(ctx.spec.upstreams.apt, { defaultSuite: debian.suite, baseDir: ctx.baseDir, where: 'upstreams.apt' });

    const { indexes, sources } = await readUpstreamIndexes(upstreams, debian.architectures, ctx, stats);
    ctx.log.info(`apt: ${indexes.reduce((n, ix) => n + ix.count, 0)} packages in ${sources.length} upstream suite(s)`);

    const chosen = new Map<string, LockedDeb>();
    /** the index's package of each entry of chosen */
    const from = new Map<string, AptPackage>();
    for (const arch of debian.architectures) {
      const index = indexPackedSources(indexes, arch);
      const base = await loadAptBase(index, opts.base, ctx.baseDir);
      const wants: Array<{ where: string; service?: string; roots: string[]; base: ReadonlyMap<string, InstalledPackage> }> = [
        ...services.map(([service, svc]) => ({ where: `services.${service}.artifacts.apt`, service, roots: svc.artifacts.apt, base })),
        // an mmdebstrap rootfs installs from the bundle's own repository: it needs its variant's base set too
        ...rootfs.map((r) => ({ where: `rootfs.${r.name}.mmdebstrap`, roots: [...mmdebstrapBase(index, r.variant), ...r.packages], base: new Map() })),
      ];
      for (const want of wants) {
        checkRootArchitectures(want.where, want.roots, debian.architectures);
        let closure: AptPackage[];
        try {
          closure = resolveAptClosure(index, want.roots, { recommends: opts.recommends, installed: want.base, upgradeBySource: opts.upgrade_by_source });
        } catch (err) {
          if (err instanceof ResolveError) throw new ResolveError(`${want.where} (${arch}): ${err.message}`);
          throw err;
        }
        for (const p of closure) {
          const key = `${p.name} ${p.version} ${p.architecture}`;
          const entry = chosen.get(key) ?? {
            name: p.name,
            version: p.version,
            architecture: p.architecture,
            url: `${p.origin.uri.replace(/\/+$/, '')}/${p.filename}`,
            size: p.size,
            sha256: p.sha256,
            ...(p.priority ? { priority: p.priority } : {}),
            services: [],
          };
          if (want.service && !entry.services.includes(want.service)) entry.services.push(want.service);
          chosen.set(key, entry);
          if (!from.has(key)) from.set(key, p);
        }
      }
    }
    // a stanza with SHA512 only: the lock pins the sha256 of the file that matches it
    const keys = [...chosen.keys()];
    const pins = await pinDebSha256(keys.map((k) => from.get(k)!), ctx, stats);
    keys.forEach((k, i) => (chosen.get(k)!.sha256 = pins[i]!));
    const packages = [...chosen.values()].sort((a, b) => cmp(a.name, b.name) || cmp(a.architecture, b.architecture) || cmp(a.version, b.version));
    for (const p of packages) p.services.sort();
    ctx.log.info(`apt: ${packages.length} packages pinned (${services.length} service(s), ${rootfs.length} rootfs, ${debian.architectures.join(', ')})`);
    const section = { suite: debian.suite, component: COMPONENT, architectures: [...debian.architectures].sort(), sources, packages };
    // what ferry build will check in the lock (collect, below), checked before it is written
    const check = () => checkUpstreamUrls('lock: apt', lockedAptFiles(parseAptLock(section, expectedSection(debian))), upstreams.map((u) => u.uri));
    await refuseUnlockable('upstreams.apt', ['lock: apt'], check, namePinnedDeb(packages));
    return section;
  },

  async collect(section, ctx) {
    const debian = ctx.spec.targets.debian;
    const lock = parseAptLock(section, expectedSection(debian));
    // the services a package is for go into the manifest and the SBOM: only those that list apt packages
    const aptServices = new Set(Object.entries(ctx.spec.services).flatMap(([name, s]) => (s.artifacts.apt.length > 0 ? [name] : [])));
    for (const p of lock.packages) {
      const other = p.services.find((s) => !aptServices.has(s));
      if (other !== undefined) throw new SpecError(`lock: apt: ${p.name} ${p.version} is for service ${JSON.stringify(other).slice(0, 80)}, which lists no apt packages in the spec; run ferry lock again and review the diff`);
    }
    const upstreams = await loadAptUpstreams(ctx.spec.upstreams.apt, { defaultSuite: debian!.suite, baseDir: ctx.baseDir, where: 'upstreams.apt' });
    checkUpstreamUrls('lock: apt', lockedAptFiles(lock), upstreams.map((u) => u.uri));
    if (ctx.epoch.getTime() > Date.now() + 10_000) {
      ctx.log.warn(`the bundle epoch ${ctx.epoch.toISOString()} is in the future: apt on the hosts refuses a Release dated later than their clock`);
    }
    const stats = createFetchStats(ctx.fetchStats);
    // the lock is reviewed text anyone may have edited: each .deb must be one the upstreams' signed
    // indexes list (the verified Releases and cached packed Packages ferry lock reads), not any file of
    // their pool (a warm build reads the signed Releases this machine kept, checkLockedUpstreams)
    const sha512s = await checkLockedUpstreams(lock.packages, upstreams, lock.architectures, ctx, stats);
    const got = await fetchMany(
      lock.packages.map((p) => ({ url: p.url, sha256: p.sha256, size: p.size, label: `${p.name} ${p.version} (${p.url})` })),
      { cacheDir: ctx.cacheDir, log: ctx.log, stats, syncBatch: ctx.syncBatch, concurrency: ctx.jobs },
    );
    for (const [at, sha512] of sha512s) await checkSha512(got[at]!.path, sha512, lock.packages[at]!);
    // loaded here, not at start: `ferry lock` and every other command never publish a repository
    const { writeAptRepository } = await import('./writeAptRepository.js');
    const repo = await writeAptRepository({
      outDir: join(ctx.workDir, 'apt'),
      suite: lock.suite,
      component: lock.component,
      architectures: lock.architectures,
      debs: got.map((g, i) => ({ file: g.path, sha256: lock.packages[i]!.sha256, size: lock.packages[i]!.size, priority: lock.packages[i]!.priority })),
      date: ctx.epoch,
      validForDays: ctx.spec.upstreams.apt_options.valid_for_days,
      signingKeys: ctx.signingKeys,
      origin: 'ferry',
      label: `${ctx.spec.name} ${ctx.spec.version}`,
      jobs: ctx.jobs,
      // the debs are the cache's entries for their digests (fetchMany checked each)
      cacheDir: ctx.cacheDir,
    });
    const bySha = new Map(lock.packages.map((p) => [p.sha256, p]));
    const fresh = freshDigests(got);
    const entries: BundleInput[] = [];
    checkLockedControls(lock.packages, repo.packages);
    for (const p of repo.packages) {
      const locked = bySha.get(p.sha256)!;
      // the digest the lock pins, which the download was checked against (packing checks an older cache entry again)
      entries.push({ path: `apt/${p.poolPath}`, file: p.file, kind: 'apt', services: locked.services, known: { sha256: p.sha256, size: p.size }, verified: fresh.has(p.sha256) });
    }
    const allServices = [...new Set(lock.packages.flatMap((p) => p.services))].sort();
    for (const ix of repo.indexes) entries.push({ path: `apt/${ix.path}`, file: ix.file, kind: 'apt-index', services: allServices });
    // the purl library (~10 ms to load) loads after the downloads, not before the first request
    const { debComponents } = await import('./debComponents.js');
    return {
      entries,
      artifacts: {
        suite: lock.suite,
        component: lock.component,
        architectures: lock.architectures,
        packages: lock.packages.map((p) => ({ name: p.name, version: p.version, architecture: p.architecture, services: p.services })),
      },
      // distro: the suite the bundle publishes them in (targets.debian.suite, its repository's Codename)
      components: debComponents(repo.packages, (p) => bySha.get(p.sha256)!.services, 'apt', () => lock.suite),
    };
  },
};

/** The packages mmdebstrap installs for a variant before the listed ones (see mmdebstrap(1), --variant). */
function mmdebstrapBase(index: PackageIndex, variant: string): string[] {
  if (variant === 'extract' || variant === 'custom') return [];
  const priorities: Record<string, string[]> = {
    minbase: ['required'],
    buildd: ['required'],
    required: ['required'],
    important: ['required', 'important'],
    debootstrap: ['required', 'important'],
    '-': ['required', 'important'],
    standard: ['required', 'important', 'standard'],
  };
  const wanted = new Set(priorities[variant] ?? []);
  const out: string[] = [];
  for (const [name, versions] of index.byName) {
    const c = versions[0]!;
    if (c.essential || (c.priority && wanted.has(c.priority.toLowerCase()))) out.push(name);
  }
  if (variant !== 'essential' && index.byName.has('apt') && !out.includes('apt')) out.push('apt');
  if (variant === 'buildd' && index.byName.has('build-essential')) out.push('build-essential');
  return out.sort();
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What the lock's apt section publishes: the spec's suite and architectures, in ferry's one component. */
function expectedSection(debian: { suite: string; architectures: readonly string[] } | undefined): { suite: string; component: string; architectures: string[] } {
  return { suite: debian?.suite ?? '', component: COMPONENT, architectures: [...(debian?.architectures ?? [])].sort() };
}
