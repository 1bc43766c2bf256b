import { SpecError } from '../../errors.js';
import type { ManifestEntry } from '../../bundle/manifest.js';
import { readReleaseFile, readReleaseFileSync } from '../../store/readReleaseFile.js';
import { MAX_OUTPUT } from '../../template/evaluateTemplate.js';

/**
 * The largest template file ferry reads: as large as a render's output may be. A file of any size was read
 * whole into memory (and kept by the parse cache) before any limit of the template language applied.
 */
export const MAX_TEMPLATE_BYTES = MAX_OUTPUT;

function refuseSize(label: string, size: number): void {
  if (size > MAX_TEMPLATE_BYTES) throw new SpecError(`${label}: ${size} bytes, more than the ${MAX_TEMPLATE_BYTES / 1024 / 1024} MiB a template may be (what its output may be); a configuration template is far smaller`);
}

/**
 * The template file `entry` of the release tree `dir`: one line (exit 65) when it is larger than a template may be,
 * before it is read; then read as its manifest lists it (store/readReleaseFile.ts: a link or a changed file refused).
 */
export function readTemplateFileSync(dir: string, entry: ManifestEntry): string {
  refuseSize(`template ${entry.path}`, entry.size);
  return readReleaseFileSync(dir, entry).toString('utf8');
}

/** readTemplateFileSync, not holding the event loop while it reads (a deploy renders for many hosts at once). */
export async function readTemplateFile(dir: string, entry: ManifestEntry): Promise<string> {
  refuseSize(`template ${entry.path}`, entry.size);
  return (await readReleaseFile(dir, entry)).toString('utf8');
}
