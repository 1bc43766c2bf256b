import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { buildDemoBundle } from '../helpers/demoBundle.js';
import { makeGnupg, type Gnupg } from '../helpers/gpg.js';
import { writeKey } from '../helpers/keys.js';

let dir: string;
let bundle: string;
let gnupg: Gnupg;
let alice: { secret: string; public: string; fingerprint?: string };
const fpr: Record<string, string> = {};
let signed = 0;

/** a second team signs with its own gpg: the recipe of README "Co-signing" */
async function cosign(file: string, uid: string, extra: string[] = []): Promise<void> {
  const manifest = join(dir, `manifest-${uid}-${++signed}.json`);
  const head = await ferry(['inspect', file, '--manifest']);
  await writeFile(manifest, head.stdout);
  await gnupg.ok(['--armor', '--detach-sign', '-u', fpr[uid]!, '-o', `${manifest}.asc`, manifest]);
  const added = await ferry(['sign', file, '--signature', `${manifest}.asc`, ...extra]);
  expect(added.code, added.stderr).toBe(0);
}

async function policy(name: string, rules: string): Promise<string> {
  const file = join(dir, `${name}.policy.yaml`);
  await writeFile(file, `keys:\n  alice: alice.asc\n  bob: bob.asc\n  carol: ${fpr.carol}\n${rules}`);
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-policy-'));
  alice = await writeKey(dir, 'alice');
  gnupg = await makeGnupg(dir);
  for (const uid of ['bob', 'carol', 'bob-2027']) {
    await gnupg.ok(['--quick-gen-key', `${uid} <${uid}@security.example>`, 'ed25519', 'sign', 'never']);
    fpr[uid] = await gnupg.fingerprint(`${uid}@security.example`);
    await writeFile(join(dir, `${uid}.asc`), (await gnupg.ok(['--armor', '--export', fpr[uid]!])).stdout);
  }
  bundle = await buildDemoBundle(dir, alice.secret);
});
afterAll(async () => {
  await gnupg?.close();
  await rm(dir, { recursive: true, force: true });
});

const TWO_OF_THREE = 'rules:\n  - names: ["demo", "demo-*"]\n    signers: [alice, bob, carol]\n    require: 2\n';

describe('signing policy', () => {
  it('refuses a bundle short of signatures (exit 66) naming who signed and who may still sign, and records it', async () => {
    const file = await policy('two-of-three', TWO_OF_THREE);
    const store = join(dir, 'store-short');
    const r = await ferry(['import', bundle, '--policy', file, '--store', store]);
    expect(r.code, r.stderr).toBe(66);
    expect(r.stderr).toContain('signing policy not met: rule demo,demo-* needs 2 of alice, bob, carol; signed by alice; may still sign: bob, carol');
    const v = await ferry(['verify', bundle], { env: { FERRY_POLICY: file } });
    expect(v.code).toBe(66);
    const inspected = await ferry(['inspect', bundle, '--policy', file]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain('policy NOT met');
    const audit = await ferry(['audit', 'verify', '--store', store, '--json']);
    expect(JSON.parse(audit.stdout)).toMatchObject({ ok: true, records: 1 });
  });

  it('accepts the bundle once a second team co-signed it with real gpg', async () => {
    const file = await policy('two-of-three-b', TWO_OF_THREE);
    const cosigned = join(dir, 'cosigned', 'demo-1.0.0.ferry');
    await cp(bundle, cosigned);
    await cosign(cosigned, 'bob', ['--keyring', join(dir, 'bob.asc')]);
    const r = await ferry(['verify', cosigned, '--policy', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { policy: { met: boolean; signedBy: string[]; signatures: Array<{ as: string }> } };
    expect(out.policy.met).toBe(true);
    expect(out.policy.signedBy.sort()).toEqual(['alice', 'bob']);
    const store = join(dir, 'store-met');
    const imported = await ferry(['import', cosigned, '--policy', file, '--store', store]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('policy met');
  });

  it('counts a key only for the names its rule covers, and refuses a name no rule covers', async () => {
    const otherName = await policy('other-name', 'rules:\n  - names: "openstack-*"\n    signers: [alice]\n    require: 1\n');
    const r = await ferry(['verify', bundle, '--policy', otherName]);
    expect(r.code).toBe(66);
    expect(r.stderr).toContain('no rule of');
    expect(r.stderr).toContain('covers the bundle name demo');
    const othersOnly = await policy('others-only', 'rules:\n  - names: "demo"\n    signers: [bob, carol]\n    require: 1\n  - names: "*"\n    signers: [alice]\n    require: 1\n');
    const s = await ferry(['verify', bundle, '--policy', othersOnly]);
    expect(s.code).toBe(66);
    expect(s.stderr).toContain('signed by none of them (not counted for this name: alice); may still sign: bob, carol');
  });

  it('accepts a rotated key certified by the old one for the names the old one covered, counted once with it', async () => {
    const file = await policy('rotation', 'rules:\n  - names: demo\n    signers: [alice, bob]\n    require: 2\n');
    await gnupg.ok(['-u', fpr.bob!, '--quick-sign-key', fpr['bob-2027']!]);
    await writeFile(join(dir, 'bob-2027.asc'), (await gnupg.ok(['--armor', '--export', fpr['bob-2027']!])).stdout);
    const rotated = join(dir, 'rotated', 'demo-1.0.0.ferry');
    await cp(bundle, rotated);
    await cosign(rotated, 'bob-2027');
    const r = await ferry(['verify', rotated, '--policy', file, '--keyring', join(dir, 'bob-2027.asc'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { policy: { signatures: Array<{ fingerprint: string; as: string }> } };
    expect(out.policy.signatures).toContainEqual(expect.objectContaining({ fingerprint: fpr['bob-2027'], as: 'bob' }));
    // the old and the new key of one person are one signer: without alice's signature, bob twice is not two
    const alone = join(dir, 'alone', 'demo-1.0.0.ferry');
    await cp(bundle, alone);
    const h = await ferry(['inspect', alone, '--manifest']);
    const m = join(dir, 'alone-manifest.json');
    await writeFile(m, h.stdout);
    await gnupg.ok(['--armor', '--detach-sign', '-u', fpr.bob!, '-o', `${m}.1.asc`, m]);
    await gnupg.ok(['--armor', '--detach-sign', '-u', fpr['bob-2027']!, '-o', `${m}.2.asc`, m]);
    expect((await ferry(['sign', alone, '--replace', '--signature', `${m}.1.asc`, '--signature', `${m}.2.asc`])).code).toBe(0);
    const once = await ferry(['verify', alone, '--policy', file, '--keyring', join(dir, 'bob-2027.asc')]);
    expect(once.code).toBe(66);
    expect(once.stderr).toContain('signed by bob; may still sign: alice');
  });
});
