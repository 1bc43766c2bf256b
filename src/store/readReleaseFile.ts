import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError, StoreError } from '../errors.js';
import type { ManifestEntry } from '../bundle/manifest.js';
import { isMissing } from '../util/isMissing.js';
import { sha256Hex } from '../util/sha256.js';

/** never through a link at its name; a FIFO put there is opened without waiting for a writer (and then refused) */
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * The bytes of an entry of a stored release (STORE/bundles/DIGEST/PATH) that the runner itself uses: a template it
 * renders, a requirements file, a file it shows in a diff. No host checks these against the manifest (a staged
 * artifact is checked where it arrives), so they are checked here, before they are used: a regular file (a link
 * at its name refused, exit 71) of the entry's size and sha256 (exit 67). In a store someone else can write, a
 * template replaced by a link to a file of the runner (a key) was rendered and written to every host, and one
 * edited in place was deployed as it was. A link in place of a folder on the way can only lead to the same bytes.
 */
export async function readReleaseFile(dir: string, entry: ManifestEntry): Promise<Buffer> {
  const file = join(dir, entry.path);
  const fh = await open(file, FLAGS).catch((err: unknown) => {
    throw unreadable(file, err);
  });
  try {
    expectSize(file, entry, await fh.stat());
    return expectBytes(file, entry, await fh.readFile());
  } finally {
    await fh.close();
  }
}

/** readReleaseFile, for callers that cannot wait (a plan's checks of every step). */
export function readReleaseFileSync(dir: string, entry: ManifestEntry): Buffer {
  const file = join(dir, entry.path);
  let fd: number;
  try {
    fd = openSync(file, FLAGS);
  } catch (err) {
    throw unreadable(file, err);
  }
  try {
    expectSize(file, entry, fstatSync(fd));
    return expectBytes(file, entry, readFileSync(fd));
  } finally {
    closeSync(fd);
  }
}

const REIMPORT = 'the store was changed after import: import the bundle again (ferry verify --store names every damaged file)';

function unreadable(file: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return new StoreError(`${file} is a symbolic link, which ferry never makes in a stored release and does not follow; ${REIMPORT}`, { cause: err });
  if (isMissing(err)) return new StoreError(`${file} is missing; ${REIMPORT}`, { cause: err });
  return new StoreError(`cannot read ${file} (${code ?? (err as Error).message})`, { cause: err });
}

function expectSize(file: string, entry: ManifestEntry, st: Stats): void {
  if (!st.isFile()) throw new StoreError(`${file} is not a regular file; ${REIMPORT}`);
  if (st.size !== entry.size) throw new IntegrityError(`${file} has ${st.size} bytes, but the manifest lists ${entry.size} (sha256 ${entry.sha256}); ${REIMPORT}`);
}

function expectBytes(file: string, entry: ManifestEntry, bytes: Buffer): Buffer {
  const got = sha256Hex(bytes);
  if (got !== entry.sha256) throw new IntegrityError(`${file} has sha256 ${got}, but the manifest lists ${entry.sha256}; ${REIMPORT}`);
  return bytes;
}
