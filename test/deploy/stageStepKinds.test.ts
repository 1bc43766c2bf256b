import { describe, expect, it } from 'vitest';
import { activatedAtConfigure } from '../../src/specfile/validateSteps.js';
import { hasActivation, stepKinds } from '../../src/deploy/steps/stepKinds.js';
import type { StepKindName } from '../../src/specfile/stepOptions.js';

/**
 * validateSteps refuses under stage: every step configure would have to activate; it cannot load the
 * step kinds (ferry build stays light), so it keeps its own list: this keeps it the kinds' own answer.
 */
describe('the steps refused under stage: are the ones with an activation', () => {
  it('agrees with hasActivation for every kind (image with and without retag)', () => {
    const options: Record<string, unknown[]> = { image: [{ retag: true }, { retag: false }, {}] };
    for (const kind of Object.keys(stepKinds) as StepKindName[]) {
      for (const params of options[kind] ?? [{}]) expect(activatedAtConfigure(kind, params), `${kind} ${JSON.stringify(params)}`).toBe(hasActivation({ kind, params }));
    }
    // a retag written as a template may render true on some host
    expect(activatedAtConfigure('image', { retag: '{{ retag }}' })).toBe(true);
  });
});
