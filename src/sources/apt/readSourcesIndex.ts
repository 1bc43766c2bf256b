import { IntegrityError } from '../../errors.js';
import { checkDebVersion } from './checkDebVersion.js';
import { parseControlStream } from './parseControl.js';

/** One file of a source package: its name (no folder), size and sha256. */
export interface SourceFile {
  name: string;
  size: number;
  sha256: string;
}

/** One source package as a Sources index (or a lock) describes it. */
export interface AptSourcePackage {
  name: string;
  version: string;
  /** folder relative to the upstream URI, e.g. pool/main/h/hello */
  directory: string;
  /** every file, the .dsc among them */
  files: SourceFile[];
}

const FIELDS = new Set(['Package', 'Version', 'Directory', 'Checksums-Sha256']);
const SOURCE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9+.~_-]*$/;

/**
 * Refuse a source package whose name, version or file names could steer a path (they become pool
 * paths in the bundle and URLs on the upstream): `..`, `/` or anything else a Debian archive never
 * writes. One line naming the package and the value; exit 67 (IntegrityError).
 */
export function checkSourcePackage(s: AptSourcePackage, label: string): void {
  const bad = (what: string) => new IntegrityError(`${label}: source package ${s.name} ${s.version} has ${what}; refusing it`);
  if (!SOURCE_NAME.test(s.name)) throw bad(`the name "${s.name}", which is not a valid Debian source name`);
  const invalid = checkDebVersion(s.version);
  if (invalid) throw bad(`version "${s.version}" (${invalid})`);
  if (s.directory.startsWith('/') || s.directory.split('/').some((seg) => seg === '..' || seg === '.' || seg === '') || !s.directory.startsWith('pool/')) {
    throw bad(`Directory "${s.directory}", which is not a folder under the upstream's pool/`);
  }
  for (const f of s.files) if (!FILE_NAME.test(f.name) || f.name.includes('..')) throw bad(`a file named "${f.name}", which is not a plain file name`);
  if (!s.files.some((f) => f.name.endsWith('.dsc'))) throw bad('no .dsc file in Checksums-Sha256');
}

/** The `sha256 size name` lines of a Checksums-Sha256 field. */
export function parseChecksums(value: string | undefined, label: string): SourceFile[] {
  const out: SourceFile[] = [];
  for (const line of (value ?? '').split('\n')) {
    if (!line.trim()) continue;
    const [sha256, size, name, extra] = line.trim().split(/\s+/);
    if (!sha256 || !/^[0-9a-f]{64}$/i.test(sha256) || !size || !Number.isSafeInteger(Number(size)) || !name || extra !== undefined) {
      throw new IntegrityError(`${label}: the Checksums-Sha256 line "${line.trim()}" is not "SHA256 SIZE NAME"; refusing it`);
    }
    out.push({ name, size: Number(size), sha256: sha256.toLowerCase() });
  }
  return out;
}

/** Read a (decompressed) Sources index stream into source packages, each checked (checkSourcePackage). */
export async function* readSourcesIndex(chunks: AsyncIterable<string | Buffer>, label: string): AsyncGenerator<AptSourcePackage> {
  for await (const p of parseControlStream(chunks, FIELDS, label)) {
    const name = p.get('Package');
    const version = p.get('Version');
    if (!name || !version) continue;
    const s: AptSourcePackage = { name, version, directory: p.get('Directory') ?? '', files: parseChecksums(p.get('Checksums-Sha256'), `${label}: ${name} ${version}`) };
    checkSourcePackage(s, label);
    yield s;
  }
}
