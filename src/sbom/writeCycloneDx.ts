import { createHash } from 'node:crypto';
import { canonicalJson } from '../util/canonicalJson.js';
import { VERSION } from '../version.js';
import type { CdxBom, CdxComponent } from './cycloneDx.js';
import type { SbomComponent } from './sbomComponent.js';

export interface SbomInput {
  name: string;
  version: string;
  /** the bundle's fixed time: the document's only timestamp */
  epoch: Date;
  services: Record<string, { version: string; groups: string[] }>;
  components: SbomComponent[];
}

/** UUID namespace of ferry's SBOM serial numbers (a fixed random UUID: only its constancy matters). */
const SERIAL_NAMESPACE = '3f0c2b7e-8d1a-4c55-9a3e-6b2f1d0e7c41';

/**
 * The bundle's CycloneDX 1.6 SBOM as bytes: the release as the root component, its services inside it,
 * every carried artifact as a component, and the dependencies release -> services -> artifacts ->
 * their own dependencies. Deterministic: sorted throughout, the bundle epoch as the only time, and a
 * serial number derived from the content (UUID v5 of its sha256), so the same lock gives the same bytes.
 */
export function writeCycloneDx(input: SbomInput): Buffer {
  const releaseRef = `release:${input.name}@${input.version}`;
  const serviceRef = (name: string) => `service:${name}`;
  const components = mergeByRef(input.components);
  const serviceNames = Object.keys(input.services).sort();

  const dependencies = new Map<string, Set<string>>();
  const dependsOn = (from: string, to: string) => dependencies.get(from)?.add(to) ?? dependencies.set(from, new Set([to]));
  dependencies.set(releaseRef, new Set(serviceNames.map(serviceRef)));
  for (const s of serviceNames) dependencies.set(serviceRef(s), new Set());
  for (const c of components) {
    dependencies.set(c.ref, new Set(c.dependsOn ?? []));
    for (const s of c.services) if (input.services[s]) dependsOn(serviceRef(s), c.ref);
  }

  const body: Omit<CdxBom, 'serialNumber'> = {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: {
      timestamp: input.epoch.toISOString().replace(/\.000Z$/, 'Z'),
      tools: { components: [{ type: 'application', name: 'ferry', version: VERSION }] },
      component: {
        type: 'application',
        'bom-ref': releaseRef,
        name: input.name,
        version: input.version,
        components: serviceNames.map((s) => ({
          type: 'application',
          'bom-ref': serviceRef(s),
          name: s,
          version: input.services[s]!.version,
          properties: sortProperties(input.services[s]!.groups.map((value) => ({ name: 'ferry:group', value }))),
        })),
      },
    },
    components: components.map(toCdx),
    dependencies: [...dependencies]
      .sort(([a], [b]) => cmp(a, b))
      .map(([ref, on]) => ({ ref, dependsOn: [...on].sort(cmp) })),
  };
  const serialNumber = `urn:uuid:${uuidV5(SERIAL_NAMESPACE, createHash('sha256').update(canonicalJson(body)).digest('hex'))}`;
  const { bomFormat, specVersion, ...rest } = body;
  const bom: CdxBom = { bomFormat, specVersion, serialNumber, ...rest };
  return Buffer.from(JSON.stringify(bom, null, 2) + '\n', 'utf8');
}

function toCdx(c: SbomComponent): CdxComponent {
  const props = [...(c.properties ?? []), ...(c.path ? [{ name: 'ferry:path', value: c.path }] : []), ...c.services.map((value) => ({ name: 'ferry:service', value }))];
  return {
    type: c.type,
    'bom-ref': c.ref,
    name: c.name,
    ...(c.version !== undefined && { version: c.version }),
    ...(c.purl !== undefined && { purl: c.purl }),
    ...(c.sha256 !== undefined && { hashes: [{ alg: 'SHA-256' as const, content: c.sha256 }] }),
    ...(c.vcs !== undefined && { externalReferences: [{ type: 'vcs' as const, url: c.vcs }] }),
    ...(props.length > 0 && { properties: sortProperties(props) }),
    ...(c.contains?.length && { components: mergeByRef(c.contains).map(toCdx) }),
  };
}

function sortProperties(props: Array<{ name: string; value: string }>): Array<{ name: string; value: string }> {
  return [...props].sort((a, b) => cmp(a.name, b.name) || cmp(a.value, b.value));
}

/**
 * One component per ref, sorted: an artifact two kinds report (or one kind twice) appears once, with every
 * user. Other bytes under the same ref (a mirror's .deb of the same name, version and architecture as the
 * apt repository's, built elsewhere) are another artifact: listed under their bundle path as ref.
 */
function mergeByRef(list: SbomComponent[]): SbomComponent[] {
  const byRef = new Map<string, SbomComponent>();
  for (const c of list) {
    const prev = byRef.get(c.ref);
    if (prev && prev.sha256 !== c.sha256 && c.path !== undefined && !byRef.has(c.path)) byRef.set(c.path, { ...c, ref: c.path, services: [...c.services].sort(cmp) });
    else if (prev) prev.services = [...new Set([...prev.services, ...c.services])].sort(cmp);
    else byRef.set(c.ref, { ...c, services: [...c.services].sort(cmp) });
  }
  return [...byRef.values()].sort((a, b) => cmp(a.ref, b.ref));
}

/** RFC 9562 UUID version 5: SHA-1 of namespace + name, with the version and variant bits set. */
function uuidV5(namespace: string, name: string): string {
  const h = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
