import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from '../util/yaml.js';
import { SpecError, UsageError } from '../errors.js';
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
    // the command line names a file that is not there (or not readable): wrong usage (64), as README's exit
    // codes say of missing files and as an -i inventory is refused; 65 is for a spec that was read and is wrong
    throw new UsageError(`cannot read spec ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
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

/**
 * The latest epoch a bundle can carry: OpenPGP writes a signature's time as unsigned 32-bit seconds, so a
 * later one wrapped round to 1970-something and every verify refused the bundle ("Key is newer than the
 * signature", exit 66) after a build that had succeeded.
 */
const LAST_EPOCH_SECONDS = 2 ** 32 - 1;

export function epochFrom(specEpoch: Date, env: NodeJS.ProcessEnv): Date {
  const sde = env.SOURCE_DATE_EPOCH;
  const fromEnv = sde !== undefined && sde !== '';
  if (fromEnv && !/^\d+$/.test(sde)) throw new SpecError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got "${sde}"`);
  const seconds = fromEnv ? Number(sde) : Math.floor(specEpoch.getTime() / 1000);
  if (!(seconds >= 0 && seconds <= LAST_EPOCH_SECONDS)) {
    const what = fromEnv ? `SOURCE_DATE_EPOCH ${sde}` : `epoch ${Number.isNaN(seconds) ? 'is not a date' : new Date(seconds * 1000).toISOString()}`;
    throw new SpecError(`${what}: a bundle's epoch must lie between 1970-01-01T00:00:00Z and ${new Date(LAST_EPOCH_SECONDS * 1000).toISOString()} (OpenPGP signature times are 32-bit seconds)`);
  }
  return new Date(seconds * 1000);
}
