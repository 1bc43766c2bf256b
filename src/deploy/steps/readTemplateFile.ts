import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { SpecError } from '../../errors.js';
import { MAX_OUTPUT } from '../../template/evaluateTemplate.js';

/**
 * The largest template file ferry reads: as large as a render's output may be. A file of any size was read
 * whole into memory (and kept by the parse cache) before any limit of the template language applied.
 */
export const MAX_TEMPLATE_BYTES = MAX_OUTPUT;

function refuseSize(label: string, size: number): void {
  if (size > MAX_TEMPLATE_BYTES) throw new SpecError(`${label}: ${size} bytes, more than the ${MAX_TEMPLATE_BYTES / 1024 / 1024} MiB a template may be (what its output may be); a configuration template is far smaller`);
}

/** A template file of the release, measured on the open file before it is read: one line (exit 65) when it is larger than a template may be. */
export function readTemplateFileSync(path: string, label: string): string {
  const fd = openSync(path, 'r');
  try {
    refuseSize(label, fstatSync(fd).size);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** readTemplateFileSync, not holding the event loop while it reads (a deploy renders for many hosts at once). */
export async function readTemplateFile(path: string, label: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    refuseSize(label, (await fh.stat()).size);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
