import type { ArtifactKind } from '../kind.js';
import { collectImages } from './collectImages.js';
import type { ImageLock } from './imageLockSchema.js';
import { lockImages } from './lockImages.js';

/**
 * The `image` artifact kind: services' `artifacts.images: [{ ref, platforms?, from? }]`. `lock` pins each
 * reference to its manifest or reduced index digest and every blob; `collect` carries them as one OCI
 * image layout under oci/ (docs/images.md).
 */
export const imageKind: ArtifactKind<ImageLock> = {
  name: 'image',
  lock: lockImages,
  collect: (lock, ctx) => collectImages(lock, ctx),
};
