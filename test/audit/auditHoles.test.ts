import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';

/**
 * verify --store and import hash the bundle file for the audit record beside the verify. The reader refuses a
 * bundle followed by more than 1 MiB (a hole: no disk space taken, no key needed) after 1 MiB of it, but the
 * audit's hash of the whole file was still waited for: hours for terabytes. A refused file larger than 1 GiB
 * is now recorded without its sha256, at once.
 */
describe('the audit record of a bundle file with a hole after it', () => {
  let dir: string;
  let keyring: string;
  let bundle: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-audit-holes-'));
    const team = await writeKey(dir, 'team');
    keyring = team.public;
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const data = Buffer.from('artifact\n');
    bundle = await craftBundle(manifestFor([{ path: 'files/a', data }]), key, [{ path: 'files/a', data }]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // 2 GiB (hashed in seconds, so the old records showed a sha256) and 4 TiB (hashed in hours)
  it.each([['2 GiB', 2 * 2 ** 30], ['4 TiB', 4 * 2 ** 40]])('a %s hole: verify and import refuse it at once, the records without the file\'s sha256', async (_, hole) => {
    const file = join(dir, `holey-${hole}.ferry`);
    await writeFile(file, bundle);
    await truncate(file, bundle.length + hole);
    const store = join(dir, `store-${hole}`);
    for (const command of ['verify', 'import']) {
      const r = await ferry([command, file, '--keyring', keyring, '--store', store]);
      expect(r.code, r.stderr).toBe(68);
      const refusal = r.stderr.split('\n').filter((l) => l.startsWith('ferry: '));
      expect(refusal).toEqual([`ferry: ${file}: more than 1048576 bytes after the end-of-archive marker at byte ${bundle.length - 512} (a tar writer pads with at most a record of zeros): the bundle was changed after it was written`]);
    }
    const records = (await readFile(join(store, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => [r.command, r.result, r.exitCode, r.bundle])).toEqual([
      ['verify', 'refused', 68, { file, sha256: null }],
      ['import', 'refused', 68, { file, sha256: null }],
    ]);
  });
});
