import { compareDebVersions } from './compareDebVersions.js';
import { PackedIndex, packIndex } from './packedIndex.js';
import type { AptPackage } from './types.js';

/**
 * All upstream packages by name and by the virtual names they provide, for one target architecture.
 * Nothing is copied out of the packed indexes: a lookup probes each index's own hash table, and a list
 * becomes package objects on first use (then the same objects every time).
 */
export interface PackageIndex {
  arch: string;
  /**
   * name -> versions, the candidate first: the highest pin priority (AptOrigin.pin), then the highest
   * version (across every configured suite and component)
   */
  byName: ReadonlyMap<string, AptPackage[]>;
  /** virtual name -> packages providing it */
  providers: ReadonlyMap<string, AptPackage[]>;
  /**
   * name -> a number that orders names as apt's cache numbers them: as apt first meets them reading
   * the indexes in order (the package itself, then the names in its Pre-Depends, Depends, Conflicts,
   * Breaks, Recommends, Suggests, Replaces, Enhances, Provides). apt's last tie-break between providers
   * prefers the higher number; only the comparison means something. Undefined for a name never met.
   */
  order(name: string): number | undefined;
}

/** One packed index as seen from one architecture. */
interface Source {
  packed: PackedIndex;
  /** whether record i is installable on the architecture (its own or `all`) */
  takes: (i: number) => boolean;
  /** by string id, the position of the name's first meeting among the records taken, or -1 */
  firstMet: Int32Array;
}

/** name -> packages, looked up in every source in order (records of that name, or providing it). */
class PackedLists implements ReadonlyMap<string, AptPackage[]> {
  private readonly lists = new Map<string, AptPackage[] | undefined>();
  constructor(
    private readonly sources: readonly Source[],
    private readonly records: (packed: PackedIndex, id: number) => Uint32Array,
    private readonly finish?: (list: AptPackage[]) => void,
  ) {}

  get(name: string): AptPackage[] | undefined {
    if (this.lists.has(name)) return this.lists.get(name);
    let list: AptPackage[] | undefined;
    for (const { packed, takes } of this.sources) {
      const id = packed.lookup(name);
      if (id === undefined) continue;
      for (const i of this.records(packed, id)) if (takes(i)) (list ??= []).push(packed.get(i));
    }
    if (list) this.finish?.(list);
    this.lists.set(name, list);
    return list;
  }
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  /** every name (a scan of all records: for `base: required` and mmdebstrap variants, not the resolver) */
  *keys(): MapIterator<string> {
    const seen = new Set<string>();
    for (const { packed, takes } of this.sources) {
      for (let i = 0; i < packed.count; i++) {
        if (!takes(i)) continue;
        const name = packed.string(packed.nameId(i));
        if (this.records(packed, packed.nameId(i)).length > 0 && !seen.has(name)) {
          seen.add(name);
          yield name;
        }
      }
    }
  }
  get size(): number {
    let n = 0;
    for (const _ of this.keys()) n++;
    return n;
  }
  *entries(): MapIterator<[string, AptPackage[]]> {
    for (const name of this.keys()) yield [name, this.get(name)!];
  }
  *values(): MapIterator<AptPackage[]> {
    for (const name of this.keys()) yield this.get(name)!;
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
 * candidate is the highest version in any source. The only pass over all records counts where names
 * are first met (apt's cache order), on numbers only.
 */
export function indexPackedSources(packedSources: readonly PackedIndex[], arch: string): PackageIndex {
  const sources = packedSources.map((packed): Source => {
    const archOk = new Map<number, boolean>();
    const takes = (i: number) => {
      const a = packed.archId(i);
      let ok = archOk.get(a);
      if (ok === undefined) {
        const s = packed.string(a);
        ok = s === arch || s === 'all';
        archOk.set(a, ok);
      }
      return ok;
    };
    const firstMet = new Int32Array(packed.strings).fill(-1);
    let met = 0;
    for (let i = 0; i < packed.count; i++) {
      if (!takes(i)) continue;
      for (const id of packed.namesMet(i)) if (firstMet[id] === -1) firstMet[id] = met++;
    }
    return { packed, takes, firstMet };
  });
  // a name met in an earlier index comes first; within one, by its first meeting
  const order = (name: string): number | undefined => {
    for (let s = 0; s < sources.length; s++) {
      const { packed, firstMet } = sources[s]!;
      const id = packed.lookup(name);
      if (id !== undefined && firstMet[id]! >= 0) return s * 2 ** 32 + firstMet[id]!;
    }
    return undefined;
  };
  return {
    arch,
    byName: new PackedLists(sources, (p, id) => p.recordsNamed(id), (list) => list.sort((a, b) => (b.origin.pin ?? 500) - (a.origin.pin ?? 500) || compareDebVersions(b.version, a.version))),
    providers: new PackedLists(sources, (p, id) => p.recordsProviding(id)),
    order,
  };
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
