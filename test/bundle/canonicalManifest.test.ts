import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { craftTar, manifestFor } from '../helpers/craft.js';
import { importDemoBundle } from '../helpers/demoBundle.js';
import { writeKey } from '../helpers/keys.js';
import { snapshotTree } from '../helpers/tree.js';
import { canonicalJson } from '../../src/util/canonicalJson.js';
import { signDetached } from '../../src/pgp/sign.js';
import { parseManifest } from '../../src/bundle/manifest.js';

/**
 * A bundle's digest is the sha256 of its manifest's exact bytes, so one manifest must have one byte
 * form: ferry reads only canonical JSON (sorted keys, none twice, no whitespace, one LF at the end),
 * even when a trusted key signed other bytes. Otherwise a signed manifest with a duplicate key reads
 * as another bundle's content under its own digest, and squats that NAME/VERSION.
 */
describe('only a canonical manifest is read, even when a trusted key signed it', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let teamKey: openpgp.PrivateKey;
  let store: string;
  const files = [{ path: 'files/s/a.txt', data: Buffer.from('artifact a\n') }];
  const canonical = canonicalJson(manifestFor(files));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-canonical-'));
    team = await writeKey(dir, 'team');
    teamKey = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    ({ store } = await importDemoBundle(dir, team));
  });

  const forms: Array<[string, string]> = [
    // JSON.parse keeps the last of two keys: this one reads as "demo", the name of the release in the store
    ['a duplicate key', canonical.replace('"name":"crafted"', '"name":"crafted","name":"demo"')],
    ['unsorted keys', JSON.stringify(manifestFor(files)) + '\n'],
    ['extra whitespace', canonical.replace('"name":', '"name": ')],
    ['pretty-printed', JSON.stringify(JSON.parse(canonical), null, 2) + '\n'],
    ['CRLF at the end', canonical.replace(/\n$/, '\r\n')],
    ['no LF at the end', canonical.replace(/\n$/, '')],
    ['an escaped letter', canonical.replace('"crafted"', '"cr\\u0061fted"')],
    ['a number spelled 1.0', canonical.replace('"size":11', '"size":11.0')],
  ];

  it('the forms below parse to a manifest (the control: only their bytes are wrong)', () => {
    for (const [, text] of forms) expect(() => JSON.parse(text)).not.toThrow();
    expect(JSON.parse(forms[0]![1]).name).toBe('demo');
    expect(parseManifest(Buffer.from(canonical), 'x').name).toBe('crafted');
  });

  it.each(forms)('refuses a manifest with %s on verify, import and inspect, and leaves the store as it was', async (name, text) => {
    const bytes = Buffer.from(text);
    const signature = await signDetached(bytes, [teamKey], new Date());
    const file = join(dir, `${name.replace(/\W+/g, '-')}.ferry`);
    await writeFile(file, craftTar([{ path: 'manifest.json', data: bytes }, { path: 'manifest.json.asc', data: Buffer.from(signature) }, ...files]));
    const message = /manifest\.json is not canonical JSON \(it differs from its canonical form at byte \d+\)/;
    const before = await snapshotTree(store);
    for (const cmd of [
      ['verify', file, '--keyring', team.public],
      ['import', file, '--keyring', team.public, '--store', store],
      ['inspect', file],
    ]) {
      const r = await ferry(cmd);
      expect(r.code, `${cmd[0]}: ${r.stderr}`).toBe(68);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(await snapshotTree(store)).toEqual(before);
  });
});
