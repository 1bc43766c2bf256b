import type { ArtifactKind } from '../kind.js';
import { collectPython } from './collectPython.js';
import { lockPython, type PythonLock } from './lockPython.js';

/**
 * Python wheels of each service, pinned by hash in its requirements file, carried with a static PEP 503
 * index that hosts install from with `pip install --no-index --require-hashes`.
 */
export const pythonKind: ArtifactKind<PythonLock> = {
  name: 'python',
  lock: lockPython,
  collect: collectPython,
};
