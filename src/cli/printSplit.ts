import type { SplitResult } from '../bundle/splitBundle.js';
import { formatBytes } from '../ui/log.js';

/** The volumes of a split bundle, as `ferry split` and `ferry build --split` print them. */
export function printSplit(r: SplitResult): void {
  const out = process.stdout;
  out.write(`${r.indexPath}\n  ${r.index.volumes.length} volumes of ${r.index.bundle} (${formatBytes(r.index.size)}, sha256 ${r.index.sha256})\n`);
  for (const v of r.index.volumes) out.write(`  ${v.file}  ${formatBytes(v.size)}  ${v.sha256}\n`);
}
