import { IntegrityError } from '../../errors.js';
import type { PublishedPackage } from './writeAptRepository.js';

/**
 * Every .deb a lock pins is the package its file's own control names: each entry, not one per file. A
 * lock may list one file twice (the same sha256), once truthfully and once as `openssl 9.9`; checked by
 * file alone, the second name would pass into manifest.artifacts (ferry diff, deploy's pinned versions)
 * while the bundle carries no such package. Throws one line naming the first entry that lies (exit 67).
 */
export function checkLockedControls(
  locked: ReadonlyArray<{ name: string; version: string; architecture: string; sha256: string; url: string }>,
  published: ReadonlyArray<Pick<PublishedPackage, 'name' | 'version' | 'architecture' | 'sha256'>>,
): void {
  const bySha = new Map(published.map((p) => [p.sha256, p]));
  for (const l of locked) {
    const p = bySha.get(l.sha256);
    if (!p || p.name !== l.name || p.version !== l.version || p.architecture !== l.architecture) {
      const says = p ? `${p.name} ${p.version} ${p.architecture}` : 'nothing published';
      throw new IntegrityError(`${l.url}: the lock pins ${l.name} ${l.version} ${l.architecture}, but the file's control says ${says}`);
    }
  }
}
