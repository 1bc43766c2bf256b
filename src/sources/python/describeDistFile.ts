import type { BuildContext } from '../kind.js';
import { IntegrityError, ResolveError } from '../../errors.js';
import { fetchToCache } from '../../fetch/fetchToCache.js';
import { contentLength } from './contentLength.js';
import { admitsPython } from './admitsPython.js';
import type { IndexFile } from './indexFile.js';
import { normalizeProjectName } from './normalizeProjectName.js';
import { parseCoreMetadata } from './parseCoreMetadata.js';
import type { Pin } from './parseRequirementsFile.js';
import { readDistMetadata } from './readDistMetadata.js';
import { sameVersion } from './sameVersion.js';
import type { PythonTarget } from './targetTags.js';

/** A file chosen for one or more pins (of one or more services). */
export interface Chosen {
  file: IndexFile;
  kind: 'wheel' | 'sdist';
  version: string;
  /** normalized */
  project: string;
  services: Set<string>;
  pins: Pin[];
}

/** A chosen wheel's own METADATA has a Requires-Python that excludes the target (pip then tries the pin's next version). */
export class MetadataExcludesTarget extends ResolveError {
  constructor(
    message: string,
    readonly chosen: Chosen,
    readonly requiresPython: string,
  ) {
    super(message);
  }
}

export interface DistFacts {
  sha256: string;
  size: number;
  requiresPython?: string;
  /** the wheel's Requires-Dist; undefined for sdists, whose dependencies are known only once built */
  requiresDist?: string[];
  /** the wheel's Provides-Extra */
  providesExtra?: string[];
}

/**
 * What the lock needs to know of a chosen file: its dependencies and Requires-Python from its core
 * metadata (checked against the pin's name and version), and its sha256 and size — from the index when it
 * gives them, else from the wheel downloaded to read METADATA, a HEAD request, or a download. The sha256
 * must be one of every pin's hashes.
 */
export async function describeDistFile(c: Chosen, target: PythonTarget, ctx: BuildContext): Promise<DistFacts> {
  const fetchOpts = { cacheDir: ctx.cacheDir, log: ctx.log, stats: ctx.fetchStats, syncBatch: ctx.syncBatch };
  let sha256 = c.file.sha256;
  let size = c.file.size;
  let requiresPython = c.file.requiresPython;
  let requiresDist: string[] | undefined;
  let providesExtra: string[] | undefined;
  if (c.kind === 'wheel') {
    const md = await readDistMetadata(c.file, fetchOpts);
    const meta = parseCoreMetadata(md.text);
    if (meta.name && normalizeProjectName(meta.name) !== c.project) {
      throw new IntegrityError(`${c.file.filename}: its METADATA names project "${meta.name}", not ${c.project}; the index is inconsistent`);
    }
    if (meta.version && !sameVersion(meta.version, c.version)) {
      throw new IntegrityError(`${c.file.filename}: its METADATA says version ${meta.version}, the pin is ${c.version}; the index is inconsistent`);
    }
    requiresDist = meta.requiresDist;
    providesExtra = meta.providesExtra;
    requiresPython ??= meta.requiresPython;
    // pip checks the METADATA's Requires-Python even when the index gave its own (which selectFile checked)
    if (meta.requiresPython && !admitsPython(meta.requiresPython, target.version)) {
      throw new MetadataExcludesTarget(
        `${c.pins[0]!.where}: ${c.file.filename} requires Python ${meta.requiresPython} (its METADATA), the target is ${target.version}; pin a version that supports it`,
        c,
        meta.requiresPython,
      );
    }
    if (md.wheel) {
      sha256 = md.wheel.sha256;
      size = md.wheel.size;
    }
  } else {
    ctx.log.warn(`${c.file.filename}: a source distribution; its dependencies are not checked (they are known only once it is built on the host)`);
  }
  if (sha256 && size === undefined) size = await contentLength(c.file.url);
  if (!sha256 || size === undefined) {
    const fetched = await fetchToCache({ url: c.file.url, sha256, label: c.file.filename }, fetchOpts);
    sha256 = fetched.sha256;
    size = fetched.size;
  }
  for (const pin of c.pins) {
    if (!pin.hashes.includes(sha256)) {
      throw new IntegrityError(`${pin.where}: ${c.file.filename} has sha256 ${sha256}, which is not among the pinned hashes of ${pin.name}==${pin.version}: the upstream offers bytes that were not reviewed. Find out why the upstream changed before trusting them; only then recompile the hashes`);
    }
  }
  return { sha256, size, requiresPython, requiresDist, providesExtra };
}
