import type { Spec } from '../specfile/schema.js';
import type { ArtifactKind } from './kind.js';

/**
 * One artifact kind in the registry: its name, whether a spec may use it, and the import of its module.
 * The build loads a kind's modules only when the spec (or, with --locked, the lock) uses that kind, so a
 * spec of files does not load the apt resolver, the wheel reader or the registry client.
 */
export interface KindEntry {
  name: string;
  /**
   * Whether the spec names anything of this kind. Never false when the kind's lock would return a section
   * or refuse the spec; when false, lock is not run and the kind's modules are not loaded.
   */
  inSpec(spec: Spec): boolean;
  /**
   * Whether a lock of the spec must have this kind's section (`ferry build --locked` refuses one without
   * it); default: inSpec. Narrower only where inSpec runs the kind's lock for a spec it may lock nothing for.
   */
  lockedFor?(spec: Spec): boolean;
  load(): Promise<ArtifactKind<any>>;
}

const anyService = (spec: Spec, uses: (artifacts: Spec['services'][string]['artifacts']) => boolean) => Object.values(spec.services).some((s) => uses(s.artifacts));

/**
 * Every artifact kind, in the order the build runs them: a kind comes after the kinds it `uses`
 * (a rootfs built by mmdebstrap installs from the apt repository).
 */
export const KINDS: readonly KindEntry[] = [
  { name: 'files', inSpec: (spec) => anyService(spec, (a) => a.files.length > 0), load: async () => (await import('./files/filesKind.js')).filesKind },
  // an mmdebstrap rootfs installs from the bundle's apt repository; a rootfs of a folder or tarball locks no package
  {
    name: 'apt',
    inSpec: (spec) => anyService(spec, (a) => a.apt.length > 0) || Object.keys(spec.rootfs).length > 0,
    lockedFor: (spec) => anyService(spec, (a) => a.apt.length > 0) || Object.values(spec.rootfs).some((r) => 'mmdebstrap' in r),
    load: async () => (await import('./apt/aptKind.js')).aptKind,
  },
  { name: 'python', inSpec: (spec) => anyService(spec, (a) => a.python !== undefined), load: async () => (await import('./python/pythonKind.js')).pythonKind },
  { name: 'git', inSpec: (spec) => anyService(spec, (a) => a.git.length > 0), load: async () => (await import('./git/gitKind.js')).gitKind },
  // lock refuses a service naming a rootfs the spec does not define: it runs when either side names one
  { name: 'rootfs', inSpec: (spec) => anyService(spec, (a) => a.rootfs.length > 0) || Object.keys(spec.rootfs).length > 0, load: async () => (await import('./rootfs/rootfsKind.js')).rootfsKind },
  { name: 'image', inSpec: (spec) => anyService(spec, (a) => a.images.length > 0), load: async () => (await import('./image/imageKind.js')).imageKind },
  // any mirror of any kind (apt, python, and whatever kind the spec's mirrors section gains)
  { name: 'mirror', inSpec: (spec) => Object.values(spec.mirrors).some((m) => Object.keys(m).length > 0), load: async () => (await import('./mirrorKind.js')).mirrorKind },
];
