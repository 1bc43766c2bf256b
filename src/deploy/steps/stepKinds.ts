import { aptStep } from './aptStep.js';
import { commandStep } from './commandStep.js';
import { fileStep } from './fileStep.js';
import { gitStep } from './gitStep.js';
import { imageStep } from './imageStep.js';
import { rootfsStep } from './rootfsStep.js';
import { serviceStep } from './serviceStep.js';
import { templateStep } from './templateStep.js';
import type { StepKindName, StepOptions } from '../../specfile/stepOptions.js';
import type { StepKind } from './types.js';
import { venvStep } from './venvStep.js';

/** What every kind of step a spec may use does on a host, by the key that names it. */
export const stepKinds: Record<StepKindName, StepKind<any>> = {
  apt: aptStep,
  venv: venvStep,
  file: fileStep,
  template: templateStep,
  service: serviceStep,
  command: commandStep,
  rootfs: rootfsStep,
  git: gitStep,
  image: imageStep,
} satisfies { [K in StepKindName]: StepKind<StepOptions<K>> };

/** Whether an install step has an activation configure runs (the kind has one, and these options ask for it). */
export function hasActivation(step: { kind: StepKindName; params: unknown }): boolean {
  const kind = stepKinds[step.kind];
  return kind.activate !== undefined && (kind.activates?.(step.params) ?? true);
}
