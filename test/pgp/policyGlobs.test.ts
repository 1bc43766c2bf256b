import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';

/**
 * A policy's name globs are matched against the bundle's name, which its signer chooses (up to 200
 * characters). Several stars as a regular expression backtrack over every split of the name: a glob like
 * `*a*a*a*a*a*a*b` against a long name of a's would keep verify busy for hours before the next rule applied.
 */
describe('signing policy name globs', () => {
  it('a glob of many stars that does not match a long name lets the next rule decide, at once', async (ctx) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-policy-globs-'));
    ctx.onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const alice = await writeKey(dir, 'alice');
    const key = await openpgp.readPrivateKey({ armoredKey: alice.secretArmored });
    const files = [{ path: 'files/s/a.txt', data: Buffer.from('artifact a\n') }];
    const name = 'a'.repeat(150);
    const bundle = join(dir, `${name}-1.0.0.ferry`);
    await writeFile(bundle, await craftBundle(manifestFor(files, { name }), key, files));
    const policy = join(dir, 'policy.yaml');
    await writeFile(policy, 'keys:\n  alice: alice.asc\nrules:\n  - names: ["*a*a*a*a*a*a*a*a*b"]\n    signers: [alice]\n    require: 1\n  - names: ["a*?a"]\n    signers: [alice]\n    require: 1\n');
    const r = await ferry(['verify', bundle, '--policy', policy]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('policy met: rule a*?a needs 1 of alice; signed by alice');
  }, 120_000);
});
