import type { ArtifactKind, BundleInput } from './kind.js';
import type { SbomComponent } from '../sbom/sbomComponent.js';
import { lockAptMirror, type AptMirrorLock } from './apt/lockAptMirror.js';
import { publishAptMirror } from './apt/publishAptMirror.js';

export interface MirrorLock {
  apt: Record<string, AptMirrorLock>;
}

/**
 * General-purpose mirrors (spec `mirrors:`): `lock` pins each mirror's exact file set, `collect` fetches
 * it and publishes it under mirrors/NAME/ in the bundle (entries of kind `mirror`). After import the
 * store serves each at /mirrors/NAME/ (the newest snapshot) and /mirrors/NAME@VERSION/ (docs/mirrors.md).
 */
export const mirrorKind: ArtifactKind<MirrorLock> = {
  name: 'mirror',

  async lock(ctx) {
    const apt = Object.entries(ctx.spec.mirrors.apt);
    if (apt.length === 0) return undefined;
    const out: MirrorLock = { apt: {} };
    for (const [name, mirror] of apt) out.apt[name] = await lockAptMirror(name, mirror, ctx);
    return out;
  },

  async collect(lock, ctx) {
    const entries: BundleInput[] = [];
    const components: SbomComponent[] = [];
    const apt: Record<string, unknown> = {};
    for (const [name, section] of Object.entries(lock.apt).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const r = await publishAptMirror(name, section, ctx);
      entries.push(...r.entries);
      components.push(...(r.components ?? []));
      apt[name] = r.artifacts;
    }
    return { entries, components, artifacts: { apt } };
  },
};
