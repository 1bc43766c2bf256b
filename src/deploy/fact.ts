import { z } from 'zod';
import { STAGES } from './steps/types.js';
import { NAME_RE } from '../util/names.js';
import { DeployError } from '../errors.js';
import { escapeText } from '../util/escapeText.js';

export const FACT_FORMAT = 'ferry-fact/1';

const StageFact = z.looseObject({
  /** when the stage completed */
  time: z.string(),
  version: z.string(),
  digest: z.string(),
  /** sha256 over everything the stage depends on; equal key = nothing to do */
  key: z.string(),
  /** sha256 over the service's artifact list (path and sha256 of each) */
  artifacts: z.string(),
  /** per artifact path its sha256 (the stage stage only: what is on the host) */
  files: z.record(z.string(), z.string()).optional(),
  changed: z.number().int().min(0),
});
export type StageFact = z.infer<typeof StageFact>;

/** The checkpoint a service leaves on a host: FACTS_DIR/SERVICE.json. */
export const Fact = z.looseObject({
  format: z.literal(FACT_FORMAT),
  service: z.string(),
  host: z.string(),
  /** the service version and bundle digest of the most recent completed stage */
  version: z.string(),
  digest: z.string(),
  release: z.object({ name: z.string(), version: z.string() }),
  stages: z.partialRecord(z.enum(STAGES), StageFact),
});
export type Fact = z.infer<typeof Fact>;

/**
 * FACTS_DIR/SERVICE.json. The manifest reader already refuses such names; this check keeps a fact
 * inside its folder even for a caller that skipped it.
 */
export function factFile(factsDir: string, service: string): string {
  if (!NAME_RE.test(service)) throw new DeployError(`refusing the fact of service "${escapeText(service)}": not a plain name, its file would not stay in ${factsDir}`);
  return `${factsDir}/${service}.json`;
}
