import type { CdxBom, CdxComponent } from './cycloneDx.js';

/** The SPDX 2.3 JSON document (spdx.github.io/spdx-spec/v2.3) ferry derives from its CycloneDX SBOM. */
export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3';
  dataLicense: 'CC0-1.0';
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  documentDescribes: string[];
  packages: SpdxPackage[];
  relationships: Array<{ spdxElementId: string; relationshipType: 'DESCRIBES' | 'CONTAINS' | 'DEPENDS_ON'; relatedSpdxElement: string }>;
}

export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  downloadLocation: string;
  filesAnalyzed: false;
  licenseConcluded: 'NOASSERTION';
  licenseDeclared: 'NOASSERTION';
  copyrightText: 'NOASSERTION';
  primaryPackagePurpose: string;
  checksums?: Array<{ algorithm: 'SHA256'; checksumValue: string }>;
  externalRefs?: Array<{ referenceCategory: 'PACKAGE-MANAGER'; referenceType: 'purl'; referenceLocator: string }>;
  comment?: string;
}

const PURPOSE: Record<string, string> = { application: 'APPLICATION', library: 'LIBRARY', file: 'FILE', 'operating-system': 'OPERATING-SYSTEM', container: 'CONTAINER' };

/**
 * SPDX 2.3 from the same data: every component (the release, its services, nested ones) as a package
 * with its checksum and purl, nesting as CONTAINS and the dependency graph as DEPENDS_ON. Licenses are
 * NOASSERTION: ferry does not read them.
 */
export function toSpdx(bom: CdxBom): SpdxDocument {
  const root = bom.metadata.component;
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  // per base, the number its next id tries first: every lower one is taken already, so a ref is not
  // counted up through them again (refs that differ only in the characters made `-` were quadratic)
  const nextNumber = new Map<string, number>();
  const idOf = (ref: string) => {
    let id = ids.get(ref);
    if (id) return id;
    const base = `SPDXRef-${ref.replace(/[^A-Za-z0-9.-]+/g, '-')}`;
    id = base;
    let n = nextNumber.get(base);
    if (n !== undefined) id = `${base}-${n}`;
    else n = 2;
    for (; taken.has(id); n++) id = `${base}-${n}`;
    nextNumber.set(base, n);
    taken.add(id);
    ids.set(ref, id);
    return id;
  };
  const packages: SpdxPackage[] = [];
  const relationships: SpdxDocument['relationships'] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: idOf(root['bom-ref']) }];
  const visit = (c: CdxComponent) => {
    const vcs = c.externalReferences?.find((r) => r.type === 'vcs')?.url;
    const path = c.properties?.find((p) => p.name === 'ferry:path')?.value;
    packages.push({
      SPDXID: idOf(c['bom-ref']),
      name: c.name,
      ...(c.version !== undefined && { versionInfo: c.version }),
      downloadLocation: vcs ? `git+${vcs}${c.version ? `@${c.version}` : ''}` : 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: PURPOSE[c.type] ?? 'OTHER',
      ...(c.hashes?.length && { checksums: c.hashes.map((h) => ({ algorithm: 'SHA256' as const, checksumValue: h.content })) }),
      ...(c.purl && { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER' as const, referenceType: 'purl' as const, referenceLocator: c.purl }] }),
      ...(path && { comment: `in the bundle at ${path}` }),
    });
    for (const inner of c.components ?? []) {
      visit(inner);
      relationships.push({ spdxElementId: idOf(c['bom-ref']), relationshipType: 'CONTAINS', relatedSpdxElement: idOf(inner['bom-ref']) });
    }
  };
  visit(root);
  for (const c of bom.components) visit(c);
  for (const d of bom.dependencies) {
    for (const on of d.dependsOn) if (ids.has(d.ref) && ids.has(on)) relationships.push({ spdxElementId: ids.get(d.ref)!, relationshipType: 'DEPENDS_ON', relatedSpdxElement: ids.get(on)! });
  }
  const tool = bom.metadata.tools.components.find((t) => t.name === 'ferry');
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${root.name}-${root.version ?? ''}`.replace(/-$/, ''),
    // a URI naming this document, not a place to fetch it: the CycloneDX serial number makes it unique
    documentNamespace: `https://spdx.org/spdxdocs/${encodeURIComponent(root.name)}-${bom.serialNumber.replace(/^urn:uuid:/, '')}`,
    creationInfo: { created: bom.metadata.timestamp, creators: [`Tool: ferry-${tool?.version ?? 'unknown'}`] },
    documentDescribes: [idOf(root['bom-ref'])],
    packages,
    relationships,
  };
}
