import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { SpecError } from '../../errors.js';
import { parseRequirementsFile, type Pin, type RequirementsFile } from './parseRequirementsFile.js';

/**
 * Read a requirements file and the files it includes with -r (relative to the including file).
 * `label` paths are shown relative to `baseDir`, as the user wrote them in the spec.
 */
export async function readRequirementsFile(file: string, baseDir: string, seen: Set<string> = new Set()): Promise<RequirementsFile> {
  const abs = resolve(baseDir, file);
  const label = relative(baseDir, abs) || abs;
  if (seen.has(abs)) throw new SpecError(`${label} includes itself through -r`);
  seen.add(abs);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new SpecError(`cannot read requirements file ${label}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const parsed = parseRequirementsFile(text, label);
  // an included file's pins come where its -r line is, as pip reads them (the first of two lines for one
  // project is the one whose hashes pip checks)
  const pins: Pin[] = [];
  const ignoredOptions = [...parsed.ignoredOptions];
  // likewise its --no-binary/--only-binary (the later ones override), and a --prefer-binary anywhere counts
  const formatOptions: RequirementsFile['formatOptions'] = [];
  let preferBinary = parsed.preferBinary;
  let taken = 0;
  let formatTaken = 0;
  for (const inc of parsed.includes) {
    const sub = await readRequirementsFile(relative(baseDir, resolve(dirname(abs), inc.file)), baseDir, seen);
    pins.push(...parsed.pins.slice(taken, inc.at), ...sub.pins);
    formatOptions.push(...parsed.formatOptions.slice(formatTaken, inc.formatAt), ...sub.formatOptions);
    taken = inc.at;
    formatTaken = inc.formatAt;
    ignoredOptions.push(...sub.ignoredOptions);
    preferBinary ??= sub.preferBinary;
  }
  pins.push(...parsed.pins.slice(taken));
  formatOptions.push(...parsed.formatOptions.slice(formatTaken));
  return { pins, includes: parsed.includes, ignoredOptions, formatOptions, ...(preferBinary ? { preferBinary } : {}) };
}
