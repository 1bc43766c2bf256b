import type { ArtifactKind } from '../kind.js';
import type { PythonLock } from './lockPython.js';

/**
 * Python wheels of each service, pinned by hash in its requirements file, carried with a static PEP 503
 * index that hosts install from with `pip install --no-index --require-hashes`. Its modules load only
 * for a spec that has Python requirements: a lock of apt packages alone does not pay for them.
 */
export const pythonKind: ArtifactKind<PythonLock> = {
  name: 'python',
  async lock(ctx) {
    if (!Object.values(ctx.spec.services).some((s) => s.artifacts.python)) return undefined;
    const locked = await (await import('./lockPython.js')).lockPython(ctx);
    if (locked === undefined) return undefined;
    // what ferry build will check in the lock (collectPython), checked before it is written
    const { parsePythonLock } = await import('./pythonLockSchema.js');
    const { checkLockedFileUrls } = await import('./checkLockedFileUrls.js');
    const { refuseUnlockable } = await import('../../specfile/refuseUnlockable.js');
    await refuseUnlockable('upstreams.python', ['lock: python', 'lock file, section kinds.python'], () => checkLockedFileUrls('lock: python', parsePythonLock(locked).files, locked.index));
    return locked;
  },
  async collect(lock, ctx) {
    return (await import('./collectPython.js')).collectPython(lock, ctx);
  },
};
