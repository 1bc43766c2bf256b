import { createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { makeDirectory } from '../util/makeDirectory.js';

import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { finished } from 'node:stream/promises';
import pMap from 'p-map';
import type * as openpgp from 'openpgp';
import { BundleFormatError, SpecError } from '../errors.js';
import { loadSpec } from '../specfile/loadSpec.js';
import type { Spec } from '../specfile/schema.js';
import { lockPathFor, readLockFile, writeLockFile, LOCK_FORMAT, type LockFile } from '../specfile/lockFile.js';
import { sha256File } from '../util/sha256.js';
import { createSyncBatch } from '../util/createSyncBatch.js';
import { holdScratch } from '../util/holdScratch.js';
import { sweepDeadScratch } from '../util/sweepDeadScratch.js';
import { partialBundlePath } from './partialBundlePath.js';
import { IDENTITY_PATTERN, ownIdentity } from '../util/processIdentity.js';
import { formatBytes, silentLogger, type Logger } from '../ui/log.js';
import { VERSION } from '../version.js';
import { createFetchStats, type FetchStats } from '../fetch/createFetchStats.js';
import { KINDS } from '../sources/kinds.js';
import { hasSteps } from '../specfile/hasSteps.js';
import type { Manifest, ManifestEntry } from '../bundle/manifest.js';
import type { ArtifactKind, BuildContext, BundleInput, KindResult } from '../sources/kind.js';
import type { PlacedBundle } from './placeBundle.js';
import type { LoadedManifest } from '../store/loadManifest.js';
import type { DifferentialPlan } from '../bundle/planDifferential.js';
import type { TarFile } from '../bundle/writeTar.js';
import type { SbomComponent } from '../sbom/sbomComponent.js';

export interface BuildOptions {
  specFile: string;
  /**
   * reads the bundle key(s); called once, while the first downloads run (openpgp, about 0.15 s of CPU,
   * then loads beside them, not before the first request). A failure ends the build at once.
   */
  signingKeys: () => Promise<openpgp.PrivateKey[]>;
  outDir: string;
  cacheDir: string;
  /** fetch exactly SPEC.lock.json instead of resolving again */
  locked?: boolean;
  jobs?: number;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** write a differential bundle: leave out the artifacts this earlier release already has */
  since?: LoadedManifest;
}

export interface BuildResult {
  bundlePath: string;
  digest: string;
  manifest: Manifest;
  size: number;
  /** for a differential bundle: what it leaves out */
  differential?: DifferentialPlan;
  /** what the build downloaded and what the cache answered */
  fetched: FetchStats;
}

export const BUNDLE_KEY_PATH = 'keys/bundle.asc';

export function bundleFileName(name: string, version: string): string {
  return `${name}-${version}.ferry`;
}

/** Resolve every artifact kind of a spec into SPEC.lock.json. */
export async function lockSpec(opts: { specFile: string; cacheDir: string; jobs?: number; log?: Logger; env?: NodeJS.ProcessEnv }): Promise<{ lockPath: string; lock: LockFile }> {
  // what resolving downloads (wheels read for their METADATA...) is synced in one pass before the lock is written
  const ctx: BuildContext = { ...(await context({ ...opts, signingKeys: async () => [] })), syncBatch: createSyncBatch() };
  try {
    const lock = await resolveLock(ctx);
    await ctx.syncBatch!.flush();
    const lockPath = lockPathFor(resolve(opts.specFile));
    await writeLockFile(lockPath, lock);
    return { lockPath, lock };
  } finally {
    await rm(ctx.workDir, { recursive: true, force: true });
  }
}

/**
 * spec -> lock -> fetch (cache) -> assemble -> manifest -> sign -> pack, as NAME-VERSION.ferry in outDir.
 * The same lock and key material give the same bytes.
 */
export async function buildBundle(opts: BuildOptions): Promise<BuildResult> {
  const log = opts.log ?? silentLogger;
  // the downloads' fsyncs: one pass once everything is fetched, while the bundle is packed (createSyncBatch)
  const ctx: BuildContext = { ...(await context({ ...opts, log })), syncBatch: createSyncBatch() };
  const { spec } = ctx;
  try {
    const lock = opts.locked
      ? await readLockFile(lockPathFor(resolve(opts.specFile)), { name: spec.name, version: spec.version })
      : await resolveLock(ctx);

    if (opts.locked) checkLockKinds(lock, spec);
    const kinds = [];
    for (const entry of KINDS) {
      const section = Object.prototype.hasOwnProperty.call(lock.kinds, entry.name) ? lock.kinds[entry.name] : undefined;
      if (section !== undefined) kinds.push({ kind: await entry.load(), section });
    }
    // a locked build of kinds that all know their entries from the lock signs first and fills the bundle in place
    if (opts.locked && !opts.since && kinds.length > 0 && kinds.every(({ kind }) => kind.plan !== undefined)) {
      return await buildInPlace(opts, ctx, kinds);
    }

    // The keys (and openpgp, ~0.15 s of CPU) load when the first downloaded bytes arrive, beside the
    // downloads instead of before the first request; a kind that signs gets the same promise from
    // ctx.signingKeys. A key that cannot be read fails the build then, not when the downloads are done.
    let keyFailed: (err: unknown) => void = () => {};
    const keyFailure = new Promise<never>((_, reject) => (keyFailed = reject));
    keyFailure.catch(() => {}); // raced while collecting; later the keys are awaited themselves
    ctx.fetchStats!.onFirstBytes = () => void ctx.signingKeys().catch(keyFailed);
    const { inputs, artifacts, components } = await collectKinds(ctx, kinds, (kind, section, used) => Promise.race([kind.collect(section, ctx, used), keyFailure]));
    const synced = ctx.syncBatch!.flush();
    synced.catch(() => {}); // awaited below; a failure before then must not count as unhandled
    const signed = await signBundle(opts, ctx, inputs, artifacts, components);
    const { manifest, manifestBytes, signature, entries, differential } = signed;
    await makeDirectory(opts.outDir);
    const bundlePath = join(opts.outDir, bundleFileName(spec.name, spec.version));
    const size = await packBundle(bundlePath, manifestBytes, signature, entries, ctx.epoch);
    await synced;
    return { bundlePath, digest: signed.digest, manifest, size, differential, fetched: ctx.fetchStats! };
  } finally {
    await rm(ctx.workDir, { recursive: true, force: true });
  }
}

type LoadedKind = { kind: ArtifactKind; section: unknown };

/** Each kind's result, in KINDS order (a kind gets the results of the kinds it uses): the bundle's inputs, artifacts and SBOM components. */
async function collectKinds(
  ctx: BuildContext,
  kinds: LoadedKind[],
  collect: (kind: ArtifactKind, section: unknown, used: Record<string, KindResult>) => Promise<KindResult>,
  planning = false,
): Promise<{ inputs: BundleInput[]; artifacts: Record<string, unknown>; components: SbomComponent[] }> {
  const inputs: BundleInput[] = [];
  const artifacts: Record<string, unknown> = {};
  const collected: Record<string, KindResult> = {};
  const components: SbomComponent[] = [];
  for (const { kind, section } of kinds) {
    if (!planning) ctx.log.info(`collecting ${kind.name} artifacts`);
    const used = Object.fromEntries((kind.uses ?? []).flatMap((name: string) => (collected[name] ? [[name, collected[name]]] : [])));
    const result = await collect(kind, section, used);
    collected[kind.name] = result;
    inputs.push(...result.entries);
    components.push(...(result.components ?? []));
    if (result.artifacts !== undefined) artifacts[kind.name] = result.artifacts;
  }
  return { inputs, artifacts, components };
}

/**
 * The signed manifest of a bundle of `inputs` (plus the bundle key's public half and the SBOM, written
 * into workDir), and the entries to pack (for a differential bundle, those the base does not have).
 */
async function signBundle(
  opts: BuildOptions,
  ctx: BuildContext,
  inputs: BundleInput[],
  artifacts: Record<string, unknown>,
  components: SbomComponent[],
): Promise<{ manifest: Manifest; manifestBytes: Uint8Array; signature: string; digest: string; entries: DescribedEntry[]; differential?: DifferentialPlan }> {
  const { spec, log } = ctx;
  const signingKeys = await ctx.signingKeys();
  // what only packing needs loads now, not before the first request (and never for `ferry lock`)
  const [{ publicKeysArmored, signatureDate, signDetached, whySignaturesVary }, { FORMAT, manifestDigest, parseManifest, serializeManifest }, { writeSbomEntry }] = await Promise.all([
    import('../pgp/sign.js'),
    import('../bundle/manifest.js'),
    import('./writeSbomEntry.js'),
  ]);
  const varies = whySignaturesVary(signingKeys);
  if (varies) log.warn(varies);

  // the public half of the bundle key: hosts trust the apt repository through it (signed-by). A scratch
  // file like every file in workDir: no fsync (one now would wait for the downloads' write-back)
  const keyFile = join(ctx.workDir, 'bundle.asc');
  await writeFile(keyFile, publicKeysArmored(signingKeys));
  inputs = [...inputs, { path: BUNDLE_KEY_PATH, file: keyFile, kind: 'key', services: [] }];
  inputs.push(await writeSbomEntry(spec, ctx.epoch, components, ctx.workDir));

  const entries = await describeEntries(inputs, ctx.jobs);
  const manifest: Manifest = {
    format: FORMAT,
    name: spec.name,
    version: spec.version,
    epoch: ctx.epoch.toISOString(),
    created_by: `ferry ${VERSION}`,
    targets: spec.targets as Record<string, unknown>,
    services: Object.fromEntries(
      Object.entries(spec.services).map(([name, s]) => [
        name,
        { version: s.version, groups: s.groups, artifacts: s.artifacts as Record<string, unknown>, stage: s.stage, install: s.install, configure: s.configure },
      ]),
    ),
    artifacts,
    entries: entries.map(({ file: _f, verified: _v, ...e }) => e),
  };
  let packed = entries;
  let differential: DifferentialPlan | undefined;
  if (opts.since) {
    differential = (await import('../bundle/planDifferential.js')).planDifferential(opts.since.manifest, manifest.entries);
    const { name, version } = opts.since.manifest;
    if (differential.omitted.length === 0) {
      log.warn(`${name} ${version} has none of this release's artifacts: writing a full bundle`);
      differential = undefined;
    } else {
      // the manifest stays complete (hosts and the store need every entry); it names the base and what it leaves out
      manifest.base = { name, version, digest: opts.since.digest };
      manifest.omitted = differential.omitted;
      const omitted = new Set(differential.omitted);
      packed = entries.filter((e) => !omitted.has(e.path));
      log.info(`differential over ${name} ${version}: leaving out ${differential.omitted.length} artifacts (${formatBytes(differential.omittedBytes)}) the base has`);
    }
  }
  const manifestBytes = serializeManifest(manifest);
  // the rules every reader applies: a name the importers would refuse fails here, before signing
  try {
    parseManifest(manifestBytes, opts.specFile);
  } catch (err) {
    if (err instanceof BundleFormatError) throw new SpecError(err.message);
    throw err;
  }
  const signature = await signDetached(manifestBytes, signingKeys, signatureDate(ctx.epoch, signingKeys));
  return { manifest, manifestBytes, signature, digest: manifestDigest(manifestBytes), entries: packed, ...(differential && { differential }) };
}

/**
 * A locked build whose every kind knows its entries from the lock (KindEntry.plan: images): once the first
 * downloaded bytes arrive, the manifest is made from the plans and signed, and the partial bundle (partialBundlePath.ts) opened
 * with every entry's place (placeBundle.ts); each download then writes its bytes into its place as they
 * arrive, so packing does not read them back from the cache and write them a second time; a layer goes
 * there alone (written once: the cache keeps it from the bundle, fetch/cachePacks.ts). Everything no download placed (cache hits, small files, resumed downloads, generated
 * files) is copied in once the downloads are done. The kinds' results must be their plans, entry for
 * entry, or the build fails; the bundle gets its name only once every entry is in and checked.
 */
async function buildInPlace(opts: BuildOptions, ctx: BuildContext, kinds: LoadedKind[]): Promise<BuildResult> {
  const { spec } = ctx;
  let placing: Promise<{ bundle: PlacedBundle; signed: Awaited<ReturnType<typeof signBundle>> }> | undefined;
  const start = () =>
    (placing ??= (async () => {
      const planned = await collectKinds(ctx, kinds, (kind, section) => kind.plan!(section, ctx), true);
      const signed = await signBundle(opts, ctx, planned.inputs, planned.artifacts, planned.components);
      await makeDirectory(opts.outDir);
      const { openPlacedBundle } = await import('./placeBundle.js');
      const bundle = await openPlacedBundle(join(opts.outDir, bundleFileName(spec.name, spec.version)), signed.manifestBytes, signed.signature, signed.entries, ctx.epoch, ctx.cacheDir);
      return { bundle, signed };
    })());
  // the keys (openpgp), the plans and the signature run when the first downloaded bytes arrive, as the keys
  // alone do in a build that packs afterwards; a download waits for its place before it writes
  let failed: (err: unknown) => void = () => {};
  const failure = new Promise<never>((_, reject) => (failed = reject));
  failure.catch(() => {});
  ctx.fetchStats!.onFirstBytes = () => void start().catch(failed);
  ctx.placeDownload = (sha256, size, only) => {
    let placedIn: PlacedBundle | undefined;
    return {
      only,
      async open() {
        const { bundle } = await start();
        const writer = bundle.writer(sha256, size);
        if (writer) placedIn = bundle;
        return writer;
      },
      placed: (alone) => placedIn?.placed(sha256, alone),
    };
  };
  let bundle: PlacedBundle | undefined;
  try {
    const collected = await collectKinds(ctx, kinds, (kind, section, used) => Promise.race([kind.collect(section, ctx, used), failure]));
    const synced = ctx.syncBatch!.flush();
    synced.catch(() => {});
    const placed = await start();
    bundle = placed.bundle;
    const { manifest, entries, digest } = placed.signed;
    // what was signed is what was collected: the same entries (path, kind, services, digest, size), artifacts and SBOM
    const described = await describeEntries([...collected.inputs, ...entries.filter((e) => e.kind === 'key' || e.kind === 'sbom')], ctx.jobs);
    const same = (a: DescribedEntry[]) => JSON.stringify(a.map(({ file: _f, verified: _v, ...e }) => e));
    if (same(described) !== same(entries) || JSON.stringify(collected.artifacts) !== JSON.stringify(manifest.artifacts)) {
      throw new Error('internal error: the collected artifacts differ from the plan the manifest was signed from');
    }
    const size = await bundle.finish(described);
    bundle = undefined;
    await synced;
    return { bundlePath: join(opts.outDir, bundleFileName(spec.name, spec.version)), digest, manifest, size, fetched: ctx.fetchStats! };
  } catch (err) {
    // the partial bundle goes, once every write in flight has settled
    await (bundle ?? (await placing?.then((p) => p.bundle).catch(() => undefined)))?.abort();
    throw err;
  }
}

async function context(opts: { specFile: string; cacheDir: string; jobs?: number; log?: Logger; env?: NodeJS.ProcessEnv; signingKeys: () => Promise<openpgp.PrivateKey[]> }): Promise<BuildContext> {
  const loaded = await loadSpec(opts.specFile, opts.env);
  // a mistyped step option fails here, on the connected side, not months later at deploy time; the step
  // and template checkers load only for a spec that has steps (with none, there is nothing to check)
  if (hasSteps(loaded.spec.services)) {
    (await import('../specfile/validateSteps.js')).validateSteps(loaded.spec.services, opts.specFile);
  }
  await makeDirectory(opts.cacheDir);
  return {
    spec: loaded.spec,
    baseDir: loaded.baseDir,
    epoch: loaded.epoch,
    cacheDir: resolve(opts.cacheDir),
    workDir: await makeWorkDir(opts.log ?? silentLogger),
    signingKeys: once(opts.signingKeys),
    jobs: opts.jobs ?? 8,
    log: opts.log ?? silentLogger,
    fetchStats: createFetchStats(),
  };
}

async function resolveLock(ctx: BuildContext): Promise<LockFile> {
  const kinds: Record<string, unknown> = {};
  for (const entry of KINDS) {
    if (!entry.inSpec(ctx.spec)) continue;
    const section = await (await entry.load()).lock(ctx);
    if (section !== undefined) kinds[entry.name] = section;
  }
  return { format: LOCK_FORMAT, name: ctx.spec.name, version: ctx.spec.version, kinds };
}

type DescribedEntry = ManifestEntry & { file: string; verified: boolean };

async function describeEntries(inputs: BundleInput[], jobs: number): Promise<DescribedEntry[]> {
  const byPath = new Map<string, BundleInput>();
  for (const input of inputs) {
    const prev = byPath.get(input.path);
    if (prev) {
      if (prev.file !== input.file) throw new BundleFormatError(`two artifacts want the same bundle path ${input.path}: give one of them another name`);
      prev.services = [...new Set([...prev.services, ...input.services])];
      prev.verified ||= input.verified;
      continue;
    }
    byPath.set(input.path, { ...input, services: [...input.services] });
  }
  const sorted = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return pMap(
    sorted,
    async (i) => {
      const { sha256, size } = i.known ?? (await sha256File(i.file));
      return { path: i.path, size, sha256, kind: i.kind, services: [...i.services].sort(), file: i.file, verified: i.known !== undefined && i.verified === true };
    },
    { concurrency: Math.max(1, Math.min(jobs, 8)) },
  );
}

/** Pack atomically: a partial .ferry never carries the final name (partialBundlePath.ts). */
export async function packBundle(
  bundlePath: string,
  manifestBytes: Uint8Array,
  signature: string,
  entries: Array<{ path: string; size: number; file: string; sha256: string; verified?: boolean }>,
  mtime: Date,
): Promise<number> {
  // loaded here, not at start: `ferry lock` (this module's lockSpec) never packs, and tar costs ~35 ms to load
  const [{ writeTar }, { MANIFEST_PATH, SIGNATURE_PATH }] = await Promise.all([import('../bundle/writeTar.js'), import('../bundle/manifest.js')]);
  const tmp = await partialBundlePath(bundlePath);
  const release = holdScratch(tmp);
  const out = createWriteStream(tmp, { flags: 'wx' });
  const files: TarFile[] = [
    { path: MANIFEST_PATH, data: manifestBytes, size: manifestBytes.length },
    { path: SIGNATURE_PATH, data: Buffer.from(signature, 'utf8'), size: Buffer.byteLength(signature) },
    // what this build downloaded was hashed as it arrived; everything else (older cache entries, files
    // hashed when described) is hashed again as it is packed, so nothing else can slip in
    ...entries.map((e) => ({ path: e.path, file: e.file, size: e.size, sha256: e.verified ? undefined : e.sha256 })),
  ];
  try {
    const size = await writeTar(out, files, mtime);
    out.end();
    await finished(out);
    await rename(tmp, bundlePath);
    return size;
  } catch (err) {
    // writes still in flight fail once the stream is destroyed: the file is being thrown away, and their
    // errors must not surface as the stream's unhandled 'error' in place of this one
    out.on('error', () => {});
    // removed once closed: a stream still opening its file would otherwise create it after the removal
    const closed = new Promise<void>((resolve) => (out.closed ? resolve() : out.once('close', () => resolve())));
    out.destroy();
    await closed;
    await rm(tmp, { force: true });
    throw err;
  } finally {
    release();
  }
}

/** what makeWorkDir names its folders, the maker's identity captured */
const WORK_DIR_RE = new RegExp(`^ferry-build-${IDENTITY_PATTERN}-[A-Za-z0-9]{6}$`);

/**
 * The build's work folder in the system's temporary folder (`ferry-build-IDENTITY-XXXXXX`, util/processIdentity.ts), removed at exit
 * when the build is stopped (cli/stopOnInterrupt.ts). Those of killed builds (their process gone) are
 * removed first: they can hold packed rootfs trees and git bundles, and nothing else removes them.
 */
async function makeWorkDir(log: Logger): Promise<string> {
  const swept = await sweepDeadScratch(tmpdir(), (name) => WORK_DIR_RE.exec(name)?.[1]);
  if (swept > 0) log.info(`removed ${swept} work folder(s) left by killed builds in ${tmpdir()}`);
  const dir = await mkdtemp(join(tmpdir(), `ferry-build-${ownIdentity()}-`));
  holdScratch(dir);
  return dir;
}

/** `read` called at most once: every caller gets the first call's promise. */
function once<T>(read: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= read());
}

/**
 * A lock names only kinds ferry has and the spec uses, and leaves out none the spec uses: a lock without
 * the spec's git section would give a bundle silently without its repositories, and one with a section the
 * spec has no use for (ferry lock never writes one: KindEntry.inSpec) is refused before anything is fetched.
 * (A directory or tarball rootfs makes apt's inSpec true without any package: its lockedFor says when apt's section is needed.)
 */
function checkLockKinds(lock: LockFile, spec: Spec): void {
  for (const name of Object.keys(lock.kinds)) {
    const kind = KINDS.find((k) => k.name === name);
    if (!kind) throw new SpecError(`lock: unknown artifact kind ${JSON.stringify(name).slice(0, 80)}; run ferry lock again`);
    if (!kind.inSpec(spec)) throw new SpecError(`lock: kinds.${name} is in the lock, but the spec names no ${name} artifacts; run ferry lock again and review the diff`);
  }
  for (const k of KINDS) {
    if ((k.lockedFor ?? k.inSpec)(spec) && !Object.prototype.hasOwnProperty.call(lock.kinds, k.name)) {
      throw new SpecError(`lock: the spec names ${k.name} artifacts, but the lock has no ${k.name} section; run ferry lock again and review the diff`);
    }
  }
}
