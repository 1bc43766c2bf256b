import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpec } from '../../src/specfile/loadSpec.js';
import { validateSteps } from '../../src/specfile/validateSteps.js';
import { checkTemplate } from '../../src/template/renderTemplate.js';

const BUNDLES = fileURLToPath(new URL('../../bundles/', import.meta.url));
const specs = readdirSync(BUNDLES).map((d) => join(BUNDLES, d, `${d}.yaml`));
const templates = readdirSync(BUNDLES, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(j2|tmpl)$/.test(f)).map((f) => join(BUNDLES, f));

describe('the example specs in bundles/', () => {
  it.each(specs)('%s matches the schema and its steps validate', async (file) => {
    const { spec } = await loadSpec(file);
    expect(Object.keys(spec.services).length).toBeGreaterThan(0);
    expect(() => validateSteps(spec.services, file)).not.toThrow();
  });

  it.each(templates)('%s is in the template language ferry renders', (file) => {
    expect(() => checkTemplate(readFileSync(file, 'utf8'), file)).not.toThrow();
  });
});
