import { compareDebVersions } from './compareDebVersions.js';
import { PackedIndex, packIndex } from './packedIndex.js';
import type { AptPackage } from './types.js';

/**
 * All upstream packages by name and by the virtual names they provide, for one target architecture.
 * The maps hold record numbers; a list becomes package objects only when asked for (see LazyLists).
 */
export interface PackageIndex {
  arch: string;
  /** name -> versions, highest first (across every configured suite and component) */
  byName: ReadonlyMap<string, AptPackage[]>;
  /** virtual name -> packages providing it */
  providers: ReadonlyMap<string, AptPackage[]>;
  /**
   * name -> the position apt's cache gives the package: names are numbered as apt first meets them
   * reading the indexes in order (the package itself, then the names in its Pre-Depends, Depends,
   * Conflicts, Breaks, Recommends, Suggests, Replaces, Enhances, Provides). apt's last tie-break
   * between providers prefers the higher number.
   */
  order: ReadonlyMap<string, number>;
}

/** A record of one of the indexes: which index, which record. */
interface Ref {
  source: PackedIndex;
  i: number;
}

/** name -> records, turned into package objects on first `get` (sorted by `finish` when given). */
class LazyLists implements ReadonlyMap<string, AptPackage[]> {
  private readonly refs = new Map<string, Ref[]>();
  private readonly lists = new Map<string, AptPackage[]>();
  constructor(private readonly finish?: (list: AptPackage[]) => void) {}

  add(name: string, ref: Ref): void {
    const l = this.refs.get(name);
    if (l) l.push(ref);
    else this.refs.set(name, [ref]);
  }
  get(name: string): AptPackage[] | undefined {
    let list = this.lists.get(name);
    if (list) return list;
    const refs = this.refs.get(name);
    if (!refs) return undefined;
    list = refs.map((r) => r.source.get(r.i));
    this.finish?.(list);
    this.lists.set(name, list);
    return list;
  }
  has(name: string): boolean {
    return this.refs.has(name);
  }
  get size(): number {
    return this.refs.size;
  }
  keys(): MapIterator<string> {
    return this.refs.keys();
  }
  *entries(): MapIterator<[string, AptPackage[]]> {
    for (const name of this.refs.keys()) yield [name, this.get(name)!];
  }
  *values(): MapIterator<AptPackage[]> {
    for (const name of this.refs.keys()) yield this.get(name)!;
  }
  [Symbol.iterator](): MapIterator<[string, AptPackage[]]> {
    return this.entries();
  }
  forEach(fn: (value: AptPackage[], key: string, map: ReadonlyMap<string, AptPackage[]>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}

/**
 * Index packed Packages indexes (packedIndex.ts) for `arch`, keeping the packages installable there
 * (that architecture or `all`). Versions are sorted highest first: like apt with default pins, the
 * candidate is the highest version in any source. Only names are read here; a package is decoded when
 * the resolver asks for its name.
 */
export function indexPackedSources(sources: readonly PackedIndex[], arch: string): PackageIndex {
  const byName = new LazyLists((list) => list.sort((a, b) => compareDebVersions(b.version, a.version)));
  const providers = new LazyLists();
  const order = new Map<string, number>();
  for (const source of sources) {
    // per index, each string is looked at once: ids met before in this index are skipped
    const seen = new Uint8Array(source.strings);
    const archOk = new Map<number, boolean>();
    for (let i = 0; i < source.count; i++) {
      const a = source.archId(i);
      let ok = archOk.get(a);
      if (ok === undefined) {
        const s = source.string(a);
        ok = s === arch || s === 'all';
        archOk.set(a, ok);
      }
      if (!ok) continue;
      for (const id of source.namesMet(i)) {
        if (seen[id]) continue;
        seen[id] = 1;
        const name = source.string(id);
        if (!order.has(name)) order.set(name, order.size);
      }
      byName.add(source.string(source.nameId(i)), { source, i });
      for (const id of source.namesProvided(i)) providers.add(source.string(id), { source, i });
    }
  }
  return { arch, byName, providers, order };
}

/** Index packages held in memory (a freshly parsed index, a test's fixture) the same way. */
export function buildPackageIndex(packages: Iterable<AptPackage>, arch: string): PackageIndex {
  const sources: PackedIndex[] = [];
  // consecutive runs of one origin keep the order apt reads them in
  let run: AptPackage[] = [];
  const flush = () => {
    if (run.length > 0) sources.push(PackedIndex.open(packIndex(run), run[0]!.origin)!);
    run = [];
  };
  for (const p of packages) {
    if (run.length > 0 && run[0]!.origin !== p.origin) flush();
    run.push(p);
  }
  flush();
  return indexPackedSources(sources, arch);
}
