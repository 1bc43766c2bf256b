import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SpecError } from '../errors.js';
import { Spec } from './schema.js';
import { formatIssues } from '../util/formatIssues.js';
import { parseErrorReason } from '../util/oneLine.js';

export interface LoadedSpec {
  spec: Spec;
  /** the spec file, absolute */
  file: string;
  /** folder that relative paths in the spec are resolved against */
  baseDir: string;
  /** the epoch in force: SOURCE_DATE_EPOCH when set, else the spec's */
  epoch: Date;
}

export async function loadSpec(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedSpec> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new SpecError(`cannot read spec ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const spec = parseSpecText(text, file);
  return { spec, file: abs, baseDir: dirname(abs), epoch: epochFrom(spec.epoch, env) };
}

export function parseSpecText(text: string, label: string): Spec {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new SpecError(`${label}: not valid YAML: ${parseErrorReason(err)}`);
  }
  const parsed = Spec.safeParse(raw);
  if (!parsed.success) throw new SpecError(formatIssues(label, parsed.error));
  return parsed.data;
}

export function epochFrom(specEpoch: Date, env: NodeJS.ProcessEnv): Date {
  const sde = env.SOURCE_DATE_EPOCH;
  if (sde !== undefined && sde !== '') {
    if (!/^\d+$/.test(sde)) throw new SpecError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got "${sde}"`);
    return new Date(Number(sde) * 1000);
  }
  return new Date(Math.floor(specEpoch.getTime() / 1000) * 1000);
}
