import { join } from 'node:path';
import type { Spec } from '../specfile/schema.js';
import type { BundleInput } from '../sources/kind.js';
import type { SbomComponent } from '../sbom/sbomComponent.js';
import { SBOM_PATH } from '../sbom/cycloneDx.js';
import { writeCycloneDx } from '../sbom/writeCycloneDx.js';
import { writeFile } from 'node:fs/promises';

/**
 * The bundle's SBOM (sbom.cdx.json) from what every kind reported it carries: listed in the manifest
 * and so signed like every entry. Same lock, same bytes.
 */
export async function writeSbomEntry(spec: Spec, epoch: Date, components: SbomComponent[], workDir: string): Promise<BundleInput> {
  const file = join(workDir, SBOM_PATH);
  const services = Object.fromEntries(Object.entries(spec.services).map(([name, s]) => [name, { version: s.version, groups: s.groups }]));
  // a scratch file in workDir, packed and then removed: nothing to make durable
  await writeFile(file, writeCycloneDx({ name: spec.name, version: spec.version, epoch, services, components }));
  return { path: SBOM_PATH, file, kind: 'sbom', services: [] };
}
