import * as z from '../util/zod.js';
import { BundleFormatError } from '../errors.js';
import { formatIssues } from '../util/formatIssues.js';
import type { CdxBom, CdxComponent } from './cycloneDx.js';
import { parseErrorReason } from '../util/oneLine.js';
import { tooDenseToParse } from '../util/tooDenseToParse.js';

const Property = z.object({ name: z.string(), value: z.string() });
const Component: z.ZodType<CdxComponent> = z.lazy(() =>
  z.object({
    type: z.string(),
    'bom-ref': z.string().min(1),
    name: z.string(),
    version: z.string().optional(),
    purl: z.string().optional(),
    hashes: z.array(z.object({ alg: z.literal('SHA-256'), content: z.string().regex(/^[0-9a-f]{64}$/) })).optional(),
    externalReferences: z.array(z.object({ type: z.literal('vcs'), url: z.string() })).optional(),
    properties: z.array(Property).optional(),
    components: z.array(Component).optional(),
  }),
);
const Bom = z.object({
  bomFormat: z.literal('CycloneDX'),
  specVersion: z.literal('1.6'),
  serialNumber: z.string().regex(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
  version: z.literal(1),
  metadata: z.object({
    timestamp: z.string(),
    tools: z.object({ components: z.array(z.object({ type: z.literal('application'), name: z.string(), version: z.string() })) }),
    component: Component,
  }),
  components: z.array(Component),
  dependencies: z.array(z.object({ ref: z.string(), dependsOn: z.array(z.string()) })),
});

/**
 * How deep components may nest. ferry writes two levels (the release's services, a rootfs's packages);
 * a deeper SBOM is refused before the schema check, which (like every reader after it) walks the nesting
 * recursively: 20,000 levels, 1.3 MB that a trusted signer could carry, overflowed the stack.
 */
export const SBOM_MAX_NESTING = 32;

/** Whether the components under `raw` (its metadata.component and its components) nest deeper than `max`, walked without recursion. */
function nestsDeeper(raw: unknown, max: number): boolean {
  const metadata = (raw as { metadata?: unknown } | null)?.metadata;
  const stack: Array<[unknown, number]> = [[(metadata as { component?: unknown } | null)?.component, 1], [raw, 0]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [value, depth] = top;
    if (depth > max) return true;
    const inner = typeof value === 'object' && value !== null ? (value as { components?: unknown }).components : undefined;
    if (Array.isArray(inner)) for (const c of inner) stack.push([c, depth + 1]);
  }
  return false;
}

/** A bundle's sbom.cdx.json, checked to be the CycloneDX 1.6 shape ferry writes (what the other formats are derived from). */
export function parseCycloneDx(bytes: Uint8Array, label: string): CdxBom {
  // parsing costs per object: a signer's SBOM of 60 MiB of `[],` kept ferry sbom busy for 5 minutes
  const dense = tooDenseToParse(bytes);
  if (dense) {
    throw new BundleFormatError(`${label}: the SBOM holds ${dense.containers} JSON objects and arrays in ${bytes.length} bytes, more than any ferry writes (${dense.allowed}): refused before parsing`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new BundleFormatError(`${label}: the SBOM is not JSON (${parseErrorReason(err)})`);
  }
  if (nestsDeeper(raw, SBOM_MAX_NESTING)) {
    throw new BundleFormatError(`${label}: the SBOM is not the CycloneDX 1.6 document ferry writes: its components nest more than ${SBOM_MAX_NESTING} deep`);
  }
  const parsed = Bom.safeParse(raw);
  if (!parsed.success) throw new BundleFormatError(`${label}: the SBOM is not the CycloneDX 1.6 document ferry writes: ${formatIssues('sbom.cdx.json', parsed.error)}`);
  return parsed.data as CdxBom;
}
