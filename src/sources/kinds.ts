import { aptKind } from './apt/aptKind.js';
import { filesKind } from './files/filesKind.js';
import { gitKind } from './git/gitKind.js';
import { pythonKind } from './python/pythonKind.js';
import { rootfsKind } from './rootfs/rootfsKind.js';
import type { ArtifactKind } from './kind.js';

/**
 * Every artifact kind, in the order the build runs them (later kinds may read earlier results:
 * a rootfs built by mmdebstrap reads the apt repository).
 */
export const KINDS: ArtifactKind<any>[] = [filesKind, aptKind, pythonKind, gitKind, rootfsKind];
