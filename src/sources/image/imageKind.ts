import type { ArtifactKind } from '../kind.js';
import type { ImageLock } from './imageLockSchema.js';

/**
 * The `image` artifact kind: services' `artifacts.images: [{ ref, platforms?, from? }]`. `lock` pins each
 * reference to its manifest or reduced index digest and every blob; `collect` carries them as one OCI
 * image layout under oci/ (docs/images.md). Its modules load only for a spec that lists images.
 */
export const imageKind: ArtifactKind<ImageLock> = {
  name: 'image',
  async lock(ctx) {
    if (!Object.values(ctx.spec.services).some((s) => s.artifacts.images.length > 0)) return undefined;
    return (await import('./lockImages.js')).lockImages(ctx);
  },
  async collect(lock, ctx) {
    return (await import('./collectImages.js')).collectImages(lock, ctx);
  },
  async plan(lock, ctx) {
    return (await import('./collectImages.js')).planCollectedImages(lock, ctx);
  },
};
