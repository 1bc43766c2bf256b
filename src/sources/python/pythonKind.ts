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
    return (await import('./lockPython.js')).lockPython(ctx);
  },
  async collect(lock, ctx) {
    return (await import('./collectPython.js')).collectPython(lock, ctx);
  },
};
