import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { SBOM_PATH } from '../../src/sbom/cycloneDx.js';
import { sha256Hex } from '../../src/util/sha256.js';

/** The one file the nested SBOM's top component is (an SBOM must describe what the manifest carries). */
const CARRIED = { path: 'files/app/carried.txt', data: Buffer.from('carried\n') };

/** An SBOM of the shape ferry writes, whose one top component (CARRIED) holds `depth` components, each inside the last. */
function nestedSbom(depth: number): Buffer {
  const leaf = '{"bom-ref":"leaf","name":"leaf","type":"library"}';
  const carried = `"hashes":[{"alg":"SHA-256","content":"${sha256Hex(CARRIED.data)}"}],"properties":[{"name":"ferry:path","value":"${CARRIED.path}"}],`;
  const open = (i: number) => `{"bom-ref":"c${i}",${i === 0 ? carried : ''}"components":[`;
  const close = '],"name":"c","type":"library"}';
  let inner = '';
  for (let i = 0; i < depth; i++) inner += open(i);
  inner += leaf + close.repeat(depth);
  return Buffer.from(
    '{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:00000000-0000-4000-8000-000000000000","version":1,' +
      '"metadata":{"timestamp":"2026-11-25T00:00:00Z","tools":{"components":[]},"component":{"type":"application","bom-ref":"crafted","name":"crafted","version":"1.0.0"}},' +
      `"components":[${inner}],"dependencies":[]}\n`,
  );
}

/**
 * A signer the keyring trusts can put any SBOM in a bundle; ferry sbom and audit parse it. One whose
 * components nest thousands deep overflowed the stack of the recursive schema check: an internal error
 * (exit 74) instead of a refusal of the bundle.
 */
describe('ferry sbom refuses an SBOM whose components nest deeper than ferry writes', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let store: string;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-sbom-hostile-'));
    team = await writeKey(dir, 'team');
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const files = [{ path: SBOM_PATH, data: nestedSbom(20_000) }];
    const manifest = manifestFor(files);
    manifest.entries[0]!.kind = 'sbom';
    file = join(dir, 'nested.ferry');
    await writeFile(file, await craftBundle(manifest, key, files));
    store = join(dir, 'store');
    const i = await ferry(['import', file, '--keyring', team.public, '--store', store]);
    expect(i.code, i.stderr).toBe(0);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['a bundle file', () => ['sbom', file, '--keyring', team.public]],
    ['a bundle file, as SPDX', () => ['sbom', file, '--keyring', team.public, '--format', 'spdx']],
    ['a stored release', () => ['sbom', 'crafted/1.0.0', '--store', store]],
  ])('%s: one line, exit 68, nothing printed', async (_, args) => {
    const r = await ferry(args());
    expect(r.code, r.stderr).toBe(68);
    expect(r.stderr).toMatch(/^ferry: .*the SBOM is not the CycloneDX 1\.6 document ferry writes: .*components nest more than \d+ deep\n$/);
    expect(r.stdout).toBe('');
  });

  it('an SBOM nested as deep as ferry allows is printed (the control)', async () => {
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const files = [CARRIED, { path: SBOM_PATH, data: nestedSbom(30) }];
    const manifest = manifestFor(files);
    manifest.entries.find((e) => e.path === SBOM_PATH)!.kind = 'sbom';
    const ok = join(dir, 'shallow.ferry');
    await writeFile(ok, await craftBundle(manifest, key, files));
    const r = await ferry(['sbom', ok, '--keyring', team.public, '--format', 'spdx']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"SPDXRef-c29"');
  });

  it('an SBOM of a million tiny JSON arrays is refused before it is parsed (exit 68): parsing costs per array, 60 MiB took 5 minutes', async () => {
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const files = [{ path: SBOM_PATH, data: Buffer.from(`{"bomFormat":"CycloneDX","x":[${'[],'.repeat(1 << 20)}[]]}`) }];
    const manifest = manifestFor(files);
    manifest.entries[0]!.kind = 'sbom';
    const dense = join(dir, 'dense.ferry');
    await writeFile(dense, await craftBundle(manifest, key, files));
    const r = await ferry(['sbom', dense, '--keyring', team.public]);
    expect(r.code, r.stderr).toBe(68);
    expect(r.stderr).toMatch(/^ferry: .*dense\.ferry: the SBOM holds 1048579 JSON objects and arrays in 3145762 bytes, more than any ferry writes \(132097\): refused before parsing\n$/);
    expect(r.stdout).toBe('');
  });

  it('the SBOM a real build writes is far below that bound (the control)', async () => {
    const { writeCycloneDx } = await import('../../src/sbom/writeCycloneDx.js');
    const { tooDenseToParse } = await import('../../src/util/tooDenseToParse.js');
    // the densest a build writes: components with no properties, each its own dependency without any
    const components = Array.from({ length: 5000 }, (_, i) => ({ type: 'library' as const, ref: `p${i}`, name: `p${i}`, services: [], dependsOn: [] }));
    const bytes = writeCycloneDx({ name: 'r', version: '1', epoch: new Date('2026-11-25T00:00:00Z'), services: {}, components });
    const containers = [...bytes].filter((b) => b === 0x7b || b === 0x5b).length;
    expect(bytes.length / containers).toBeGreaterThan(1.5 * 24);
    expect(tooDenseToParse(bytes)).toBeUndefined();
  });
});
