import { readFile } from 'node:fs/promises';
import { SpecError } from '../errors.js';
import { canonicalJson } from '../util/canonicalJson.js';
import { writeFileAtomic } from '../util/writeFileAtomic.js';
import { parseErrorReason } from '../util/oneLine.js';

export const LOCK_FORMAT = 'ferry-lock/1';

/** SPEC.lock.json: the spec resolved; every artifact's exact version, source, size and sha256. */
export interface LockFile {
  format: typeof LOCK_FORMAT;
  name: string;
  version: string;
  /** one section per artifact kind, as that kind's lock() returned it */
  kinds: Record<string, unknown>;
}

export function lockPathFor(specFile: string): string {
  return specFile.replace(/\.ya?ml$/, '') + '.lock.json';
}

export async function readLockFile(path: string, expect: { name: string; version: string }): Promise<LockFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SpecError(code === 'ENOENT' ? `${path} does not exist: run ferry lock first` : `cannot read ${path}: ${code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SpecError(`${path}: not a lock file (${parseErrorReason(err)})`);
  }
  const lock = raw as Partial<LockFile>;
  if (typeof lock !== 'object' || lock === null || lock.format !== LOCK_FORMAT || typeof lock.kinds !== 'object' || lock.kinds === null) {
    throw new SpecError(`${path}: not a ${LOCK_FORMAT} file`);
  }
  if (lock.name !== expect.name || lock.version !== expect.version) {
    throw new SpecError(`${path} locks ${lock.name} ${lock.version}, but the spec is ${expect.name} ${expect.version}: run ferry lock again`);
  }
  return lock as LockFile;
}

/** Pretty-printed with sorted keys so that reviewers read a stable diff. */
export async function writeLockFile(path: string, lock: LockFile): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(JSON.parse(canonicalJson(lock)), null, 2) + '\n');
}
