import { afterEach, describe, expect, it, vi } from 'vitest';
import { toSpdx } from '../../src/sbom/toSpdx.js';
import type { CdxBom, CdxComponent } from '../../src/sbom/cycloneDx.js';

function bomOf(components: CdxComponent[]): CdxBom {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: 'urn:uuid:00000000-0000-4000-8000-000000000000',
    version: 1,
    metadata: { timestamp: '2026-11-25T00:00:00Z', tools: { components: [] }, component: { type: 'application', 'bom-ref': 'crafted', name: 'crafted' } },
    components,
    dependencies: [],
  };
}

/**
 * SPDX ids are bom-refs with every run of other characters made one `-`, numbered -2, -3 ... when taken.
 * Each ref that met a taken id counted up from -2 through every id its base already had: 20,000 refs that
 * differ only in one such character (a 1 MB SBOM a trusted signer can carry) kept `ferry sbom --format
 * spdx` busy for a minute, 55,000 for many more.
 */
describe('SPDX ids of bom-refs that read alike', () => {
  afterEach(() => vi.restoreAllMocks());

  it('are numbered in order, each after the ids its base already has', () => {
    const refs = ['x!', 'x-2', 'x?', 'x@', 'x'];
    const doc = toSpdx(bomOf(refs.map((r) => ({ type: 'library', 'bom-ref': r, name: r }))));
    expect(doc.packages.map((p) => p.SPDXID)).toEqual(['SPDXRef-crafted', 'SPDXRef-x-', 'SPDXRef-x-2', 'SPDXRef-x--2', 'SPDXRef-x--3', 'SPDXRef-x']);
  });

  it('take work in proportion to their number, not its square', () => {
    const n = 1000;
    const components = Array.from({ length: n }, (_, i): CdxComponent => ({ type: 'library', 'bom-ref': `x${String.fromCharCode(0x100 + i)}`, name: 'x' }));
    const has = vi.spyOn(Set.prototype, 'has');
    const doc = toSpdx(bomOf(components));
    expect(new Set(doc.packages.map((p) => p.SPDXID)).size).toBe(n + 1);
    expect(has.mock.calls.length).toBeLessThan(10 * n);
  });
});
