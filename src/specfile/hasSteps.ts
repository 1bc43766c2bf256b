import { STAGES, type StageName } from '../stages.js';

/**
 * Whether any service has a step in any stage: only then does the build load the step and template
 * checkers (validateSteps.ts), which have nothing to check otherwise.
 */
export function hasSteps(services: Record<string, Partial<Record<StageName, unknown[]>>>): boolean {
  return Object.values(services).some((s) => STAGES.some((stage) => (s[stage]?.length ?? 0) > 0));
}
