import { SpecError } from '../errors.js';
import { refuseUnlockable } from '../specfile/refuseUnlockable.js';
import type { ArtifactKind, BundleInput } from './kind.js';
import type { SbomComponent } from '../sbom/sbomComponent.js';
import type { AptMirrorLock } from './apt/lockAptMirror.js';
import type { PythonMirrorLock } from './python/lockPythonMirror.js';

export interface MirrorLock {
  apt: Record<string, AptMirrorLock>;
  /** absent in locks written before Python mirrors existed, and when the spec has none */
  python?: Record<string, PythonMirrorLock>;
}

const byName = <T>(record: Record<string, T>) => Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * General-purpose mirrors (spec `mirrors:`): `lock` pins each mirror's exact file set, `collect` fetches
 * it and publishes it under mirrors/NAME/ in the bundle (entries of kind `mirror`): an apt repository
 * (mirrors/NAME/debian/) or a Python index (mirrors/NAME/simple/, mirrors/NAME/files/). After import the
 * store serves each at /mirrors/NAME/ (the newest snapshot) and /mirrors/NAME@VERSION/ (docs/mirrors.md).
 * Its modules load only for a spec that has mirrors, and those of apt or Python mirrors only for a spec that has one.
 */
export const mirrorKind: ArtifactKind<MirrorLock> = {
  name: 'mirror',

  async lock(ctx) {
    const apt = Object.entries(ctx.spec.mirrors.apt);
    const python = Object.entries(ctx.spec.mirrors.python);
    if (apt.length === 0 && python.length === 0) return undefined;
    // each kind of mirror loads its modules only when the spec has one
    const out: MirrorLock = { apt: {} };
    if (apt.length) {
      const { lockAptMirror } = await import('./apt/lockAptMirror.js');
      const { checkUpstreamUrls, lockedAptFiles, namePinnedDeb, parseAptMirrorLock } = await import('./apt/aptLockSchema.js');
      for (const [name, mirror] of apt) {
        const locked = await lockAptMirror(name, mirror, ctx);
        // what ferry build will check in the lock (collect, below), checked before it is written
        const where = `lock: mirrors.apt.${name}`;
        const check = () => checkUpstreamUrls(where, lockedAptFiles(parseAptMirrorLock(locked, mirror, name)), locked.sources.map((s) => s.uri));
        await refuseUnlockable(`mirrors.apt.${name}`, [where], check, namePinnedDeb(locked.packages));
        out.apt[name] = locked;
      }
    }
    if (python.length) {
      const { lockPythonMirror } = await import('./python/lockPythonMirror.js');
      const { parsePythonMirrorLock } = await import('./python/pythonMirrorLockSchema.js');
      const { checkLockedFileUrls } = await import('./python/checkLockedFileUrls.js');
      const { indexLocation } = await import('./python/indexLocation.js');
      out.python = {};
      for (const [name, mirror] of python) {
        const locked = await lockPythonMirror(name, mirror, ctx);
        // what ferry build will check in the lock (publishPythonMirror, fetchMirrorSelection), checked before it is written
        const where = `lock: mirrors.python.${name}`;
        const check = () => checkLockedFileUrls(where, parsePythonMirrorLock(locked, name).files, indexLocation(mirror.index, ctx.baseDir));
        await refuseUnlockable(`mirrors.python.${name}`, [where, `lock file, section kinds.mirror.python.${name}`], check);
        out.python[name] = locked;
      }
    }
    return out;
  },

  async collect(lock, ctx) {
    // the mirrors are the spec's: a name the spec does not give (`../../x`) would be a folder outside mirrors/
    const names = (kind: string, got: object, want: object) => {
      const g = Object.keys(got).sort();
      const w = Object.keys(want).sort();
      if (g.join('\0') !== w.join('\0')) {
        throw new SpecError(`lock: the ${kind} mirrors are ${JSON.stringify(g).slice(0, 200)}, the spec names ${JSON.stringify(w).slice(0, 200)}; run ferry lock again and review the diff`);
      }
    };
    if (typeof lock !== 'object' || lock === null) throw new SpecError('lock: the mirror section is not an object; run ferry lock again');
    // each kind's section, absent when the lock has no mirror of that kind (ferry lock writes apt: {} always)
    const section = <T>(kind: string, got: Record<string, T> | undefined): Record<string, T> => {
      if (got === undefined) return {};
      if (typeof got !== 'object' || got === null || Array.isArray(got)) throw new SpecError(`lock: the ${kind} mirrors are not an object of mirrors by name; run ferry lock again`);
      return got;
    };
    const aptLocks = section('apt', lock.apt);
    const pythonLocks = section('Python', lock.python);
    names('apt', aptLocks, ctx.spec.mirrors.apt);
    names('Python', pythonLocks, ctx.spec.mirrors.python);
    const entries: BundleInput[] = [];
    const components: SbomComponent[] = [];
    const apt: Record<string, unknown> = {};
    const python: Record<string, unknown> = {};
    // imported in the loops: a lock without Python mirrors never loads their modules, nor apt's without apt ones
    for (const [name, section] of byName(aptLocks)) {
      const { publishAptMirror } = await import('./apt/publishAptMirror.js');
      const { checkUpstreamUrls, lockedAptFiles, parseAptMirrorLock } = await import('./apt/aptLockSchema.js');
      const { loadAptUpstreams } = await import('./apt/loadAptUpstreams.js');
      const mirror = ctx.spec.mirrors.apt[name]!;
      const checked = parseAptMirrorLock(section, mirror, name);
      const loaded = await loadAptUpstreams([{ uri: mirror.uri, keyring: mirror.keyring, suites: mirror.suites, components: mirror.components, check_valid_until: mirror.check_valid_until }], { baseDir: ctx.baseDir, where: `mirrors.apt.${name}` });
      // as lockAptMirror reads them: with `system`, only the components the mirror asks for
      const upstreams = loaded.map((u) => ({ ...u, components: u.components.filter((c) => mirror.components.includes(c)) }));
      checkUpstreamUrls(`lock: mirrors.apt.${name}`, lockedAptFiles(checked), upstreams.map((u) => u.uri));
      const r = await publishAptMirror(name, checked, upstreams, ctx, mirror);
      entries.push(...r.entries);
      components.push(...(r.components ?? []));
      apt[name] = r.artifacts;
    }
    for (const [name, section] of byName(pythonLocks)) {
      if (name in apt) throw new SpecError(`lock file: mirror ${name} is both an apt and a Python mirror; every mirror needs its own name`);
      const { publishPythonMirror } = await import('./python/publishPythonMirror.js');
      const r = await publishPythonMirror(name, section, ctx);
      entries.push(...r.entries);
      components.push(...(r.components ?? []));
      python[name] = r.artifacts;
    }
    return { entries, components, artifacts: { apt, ...(lock.python ? { python } : {}) } };
  },
};
