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

/** a lock of 60,000 .debs is 22 MB; a string cannot hold much more than 512 MiB */
const MAX_LOCK_BYTES = 256 << 20;

export function lockPathFor(specFile: string): string {
  return specFile.replace(/\.ya?ml$/, '') + '.lock.json';
}

export async function readLockFile(path: string, expect: { name: string; version: string }): Promise<LockFile> {
  let text: string;
  try {
    // only a regular file, and not one of more than MAX_LOCK_BYTES: a lock that is a FIFO (or a symlink to
    // one) blocked the build for good, and one that is /dev/zero was read until the string could not grow
    const { readRegularFile } = await import('../util/readRegularFile.js');
    const read = await readRegularFile(path, MAX_LOCK_BYTES);
    if (read.refused !== undefined) throw new SpecError(`${path} ${read.refused}: not a lock file`);
    text = read.bytes.toString('utf8');
  } catch (err) {
    if (err instanceof SpecError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new SpecError(code === 'ENOENT' ? `${path} does not exist: run ferry lock first` : `cannot read ${path}: ${code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SpecError(`${path}: not a lock file (${parseErrorReason(err)})`);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    throw new SpecError(`${path}: not a lock file (an object has the key ${JSON.stringify(duplicate).slice(0, 80)} twice: JSON.parse keeps the last, which a review may not read); run ferry lock again`);
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

/**
 * The first key that one object of `text` (valid JSON) has twice, read as JSON reads it (`"\u0073ha256"`
 * is `sha256`), or undefined. A scan with a stack, not a recursion: a lock may nest deeply.
 */
function findDuplicateKey(text: string): string | undefined {
  // per open object its keys so far; null for an open array
  const open: Array<Set<string> | null> = [];
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      open.push(new Set());
      keyNext = true;
    } else if (c === 0x5b /* [ */) {
      open.push(null);
      keyNext = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      open.pop();
      keyNext = false;
    } else if (c === 0x2c /* , */) {
      keyNext = open.at(-1) != null;
    } else if (c === 0x22 /* " */) {
      // the closing quote: the first one not escaped by an odd run of backslashes
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let back = 0;
        while (text.charCodeAt(end - 1 - back) === 0x5c) back++;
        if (back % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (keyNext) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        const keys = open.at(-1)!;
        if (keys.has(key)) return key;
        keys.add(key);
        keyNext = false;
      }
      i = end;
    }
  }
  return undefined;
}

/** Pretty-printed with sorted keys so that reviewers read a stable diff. */
export async function writeLockFile(path: string, lock: LockFile): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(JSON.parse(canonicalJson(lock)), null, 2) + '\n');
}
