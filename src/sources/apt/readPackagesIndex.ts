import { ResolveError } from '../../errors.js';
import { field, parseControlStream } from './parseControl.js';
import { parseDependencies } from './parseDependencies.js';
import type { AptOrigin, AptPackage } from './types.js';

/**
 * Read a (decompressed) Packages index stream into package records. Entries without Filename, Size or
 * SHA256 cannot be fetched and verified, so they are refused: apt would not trust them either.
 */
export async function* readPackagesIndex(chunks: AsyncIterable<string | Buffer>, origin: AptOrigin, label: string): AsyncGenerator<AptPackage> {
  for await (const p of parseControlStream(chunks)) {
    const name = field(p, 'Package');
    const version = field(p, 'Version');
    const architecture = field(p, 'Architecture');
    if (!name || !version || !architecture) continue;
    const filename = field(p, 'Filename');
    const size = Number(field(p, 'Size'));
    const sha256 = field(p, 'SHA256')?.toLowerCase();
    if (!filename || !Number.isSafeInteger(size) || !sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
      throw new ResolveError(`${label}: package ${name} ${version} has no Filename, Size or SHA256; ferry only takes packages it can verify`);
    }
    const pkg: AptPackage = {
      name,
      version,
      architecture,
      essential: field(p, 'Essential') === 'yes',
      provides: parseDependencies(field(p, 'Provides')).map((g) => g[0]!),
      filename,
      size,
      sha256,
      origin,
    };
    const multiArch = field(p, 'Multi-Arch');
    if (multiArch) pkg.multiArch = multiArch;
    const priority = field(p, 'Priority');
    if (priority) pkg.priority = priority;
    const depends = field(p, 'Depends');
    if (depends) pkg.depends = depends;
    const preDepends = field(p, 'Pre-Depends');
    if (preDepends) pkg.preDepends = preDepends;
    const recommends = field(p, 'Recommends');
    if (recommends) pkg.recommends = recommends;
    yield pkg;
  }
}
