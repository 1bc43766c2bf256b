import { basename } from 'node:path';
import { serializeManifest, type Manifest, type ManifestEntry } from './manifest.js';
import { planDifferential } from './planDifferential.js';

export interface DiffItem {
  name: string;
  /** a package or wheel version; for other artifacts the first 12 hex of the sha256 */
  version: string;
}
export interface DiffChange {
  name: string;
  from: string;
  to: string;
}
export interface DiffSection {
  added: DiffItem[];
  removed: DiffItem[];
  changed: DiffChange[];
}

export const DIFF_SECTIONS = ['packages', 'wheels', 'rootfs', 'git', 'images', 'files', 'mirrors'] as const;
export type DiffSectionName = (typeof DIFF_SECTIONS)[number];

export interface ReleaseDiff {
  a: { name: string; version: string; digest: string };
  b: { name: string; version: string; digest: string };
  sections: Record<DiffSectionName, DiffSection>;
  /** what a differential bundle of B over A would carry */
  differential: { entries: number; bytes: number; omitted: number; omittedBytes: number; fullBytes: number; bundleBytes: number };
}

/**
 * What changed from release A to release B: apt packages (by name and architecture, from
 * manifest.artifacts.apt when present, else from the .deb file names), wheels (by project), rootfs
 * images, git bundles and plain files (by content), container images (by name, as TAG@DIGEST), the packages
 * of each mirror (MIRROR/SUITE/NAME:ARCH for apt and MIRROR/SUITE/NAME:source for its source packages, MIRROR/PROJECT/FILE for Python, from manifest.artifacts.mirror), and the bytes a differential bundle
 * would carry.
 */
export function diffReleases(a: { manifest: Manifest; digest: string }, b: { manifest: Manifest; digest: string }): ReleaseDiff {
  const ia = items(a.manifest);
  const ib = items(b.manifest);
  const sections = Object.fromEntries(DIFF_SECTIONS.map((s) => [s, compare(ia[s], ib[s])])) as Record<DiffSectionName, DiffSection>;
  const plan = planDifferential(a.manifest, b.manifest.entries);
  const fullBytes = b.manifest.entries.reduce((n, e) => n + e.size, 0);
  // tar framing: a 512-byte header per entry, bodies padded to 512, the signature (~1 KiB) and 1 KiB at the end
  const framed = (size: number) => 512 + Math.ceil(size / 512) * 512;
  const manifestBytes = serializeManifest({ ...b.manifest, base: { name: a.manifest.name, version: a.manifest.version, digest: a.digest }, omitted: plan.omitted }).length;
  const bundleBytes = framed(manifestBytes) + framed(1024) + plan.carried.reduce((n, e) => n + framed(e.size), 0) + 1024;
  return {
    a: { name: a.manifest.name, version: a.manifest.version, digest: a.digest },
    b: { name: b.manifest.name, version: b.manifest.version, digest: b.digest },
    sections,
    differential: { entries: plan.carried.length, bytes: plan.carriedBytes, omitted: plan.omitted.length, omittedBytes: plan.omittedBytes, fullBytes, bundleBytes },
  };
}

/** per section: key -> version (several when a key has more than one file, e.g. wheels for two platforms) */
type Items = Record<DiffSectionName, Map<string, string>>;

function items(m: Manifest): Items {
  const out = Object.fromEntries(DIFF_SECTIONS.map((s) => [s, new Map<string, string>()])) as Items;
  const add = (section: DiffSectionName, key: string, version: string) => {
    const prev = out[section].get(key);
    out[section].set(key, prev === undefined ? version : [...new Set([...prev.split(', '), version])].sort().join(', '));
  };
  const aptPackages = aptFromArtifacts(m.artifacts.apt);
  for (const p of aptPackages ?? []) add('packages', `${p.name}:${p.architecture}`, p.version);
  for (const i of m.artifacts.image?.images ?? []) add('images', `${i.registry}/${i.repository}`, `${i.tag}@${i.digest.slice(7, 19)}`);
  // the manifest's schema checks a mirror's name, not what it lists: a diff of unsigned manifests reads what it can
  for (const [mirror, a] of Object.entries(m.artifacts.mirror?.apt ?? {})) {
    for (const p of records(a.packages, ['name', 'version', 'architecture', 'suite'])) add('mirrors', `${mirror}/${p.suite}/${p.name}:${p.architecture}`, p.version);
    for (const p of records(a.sourcePackages, ['name', 'version', 'suite'])) add('mirrors', `${mirror}/${p.suite}/${p.name}:source`, p.version);
  }
  for (const [mirror, a] of Object.entries(m.artifacts.mirror?.python ?? {})) {
    for (const f of records(a.files, ['project', 'version', 'filename'])) add('mirrors', `${mirror}/${f.project}/${f.filename}`, f.version);
  }
  for (const e of m.entries) {
    if (e.kind === 'apt' && !aptPackages && e.path.endsWith('.deb')) {
      const [name, version, arch] = basename(e.path, '.deb').split('_');
      if (name && version) add('packages', `${name}:${arch ?? 'all'}`, decodeURIComponent(version));
    } else if (e.kind === 'python' && e.path.endsWith('.whl')) {
      const [name, version] = basename(e.path, '.whl').split('-');
      if (name && version) add('wheels', name.toLowerCase().replace(/[-_.]+/g, '-'), version);
    } else if (e.kind === 'rootfs') add('rootfs', e.path, short(e));
    else if (e.kind === 'git') add('git', e.path, short(e));
    else if (e.kind === 'file') add('files', e.path, short(e));
  }
  return out;
}

function aptFromArtifacts(apt: unknown): Array<{ name: string; version: string; architecture: string }> | undefined {
  const packages = (apt as { packages?: unknown } | undefined)?.packages;
  if (!Array.isArray(packages)) return undefined;
  const ok = packages.every((p) => typeof p?.name === 'string' && typeof p?.version === 'string');
  return ok ? packages.map((p) => ({ name: p.name, version: p.version, architecture: typeof p.architecture === 'string' ? p.architecture : 'all' })) : undefined;
}

/** The objects of a list whose `keys` are all strings; anything else (not a list, null, a number) is passed over. */
function records<K extends string>(list: unknown, keys: readonly K[]): Array<Record<K, string>> {
  if (!Array.isArray(list)) return [];
  return list.filter((x): x is Record<K, string> => typeof x === 'object' && x !== null && keys.every((k) => typeof (x as Record<string, unknown>)[k] === 'string'));
}

const short = (e: ManifestEntry) => e.sha256.slice(0, 12);

function compare(a: Map<string, string>, b: Map<string, string>): DiffSection {
  const section: DiffSection = { added: [], removed: [], changed: [] };
  for (const [name, version] of b) {
    const old = a.get(name);
    if (old === undefined) section.added.push({ name, version });
    else if (old !== version) section.changed.push({ name, from: old, to: version });
  }
  for (const [name, version] of a) if (!b.has(name)) section.removed.push({ name, version });
  for (const list of [section.added, section.removed, section.changed]) list.sort((x, y) => x.name.localeCompare(y.name));
  return section;
}
