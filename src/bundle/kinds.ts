import { aptKind } from '../sources/apt/aptKind.js';
import { filesKind } from '../sources/files/filesKind.js';
import { gitKind } from '../sources/git/gitKind.js';
import { pythonKind } from '../sources/python/pythonKind.js';
import { rootfsKind } from '../sources/rootfs/rootfsKind.js';
import type { ArtifactKind } from './types.js';

/**
 * Every artifact kind, in the order the build runs them (later kinds may read earlier results:
 * a rootfs built by mmdebstrap reads the apt repository).
 */
export const KINDS: ArtifactKind<any>[] = [filesKind, aptKind, pythonKind, gitKind, rootfsKind];
