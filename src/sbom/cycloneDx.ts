/** The part of CycloneDX 1.6 JSON (cyclonedx.org/docs/1.6/json) that ferry writes and reads back. */
export interface CdxProperty {
  name: string;
  value: string;
}

export interface CdxComponent {
  type: string;
  'bom-ref': string;
  name: string;
  version?: string;
  purl?: string;
  hashes?: Array<{ alg: 'SHA-256'; content: string }>;
  externalReferences?: Array<{ type: 'vcs'; url: string }>;
  properties?: CdxProperty[];
  components?: CdxComponent[];
}

export interface CdxBom {
  bomFormat: 'CycloneDX';
  specVersion: '1.6';
  serialNumber: string;
  version: 1;
  metadata: {
    timestamp: string;
    tools: { components: Array<{ type: 'application'; name: string; version: string }> };
    component: CdxComponent;
  };
  components: CdxComponent[];
  dependencies: Array<{ ref: string; dependsOn: string[] }>;
}

/** Where the bundle carries its SBOM. */
export const SBOM_PATH = 'sbom.cdx.json';
