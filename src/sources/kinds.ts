import { aptKind } from './apt/aptKind.js';
import { filesKind } from './files/filesKind.js';
import { gitKind } from './git/gitKind.js';
import { imageKind } from './image/imageKind.js';
import { mirrorKind } from './mirrorKind.js';
import { pythonKind } from './python/pythonKind.js';
import { rootfsKind } from './rootfs/rootfsKind.js';
import type { ArtifactKind } from './kind.js';

/**
 * Every artifact kind, in the order the build runs them: a kind comes after the kinds it `uses`
 * (a rootfs built by mmdebstrap installs from the apt repository).
 */
export const KINDS: ArtifactKind<any>[] = [filesKind, aptKind, pythonKind, gitKind, rootfsKind, imageKind, mirrorKind];
