import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry, run, FERRY_BIN } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';

/** one refusal line, no internal error */
function expectRefusal(r: { code: number; stderr: string }, code: number, message: RegExp) {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry: '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/internal error/);
}

/**
 * A bundle file that stat sees but that cannot be read (damaged media answering EIO; a file this user may not
 * open) is refused in one line as a bundle that is not there is (exit 64), and import records the refusal in
 * the audit log. Both ended as "internal error ... This is a bug in ferry" (74), and import wrote no audit record.
 */
describe('a bundle file that cannot be read', () => {
  let dir: string;
  let keyring: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-unreadable-bundle-'));
    const team = await writeKey(dir, 'team');
    keyring = team.public;
    const key = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    const data = Buffer.from('artifact\n');
    await writeFile(join(dir, 'app.ferry'), await craftBundle(manifestFor([{ path: 'files/a', data }]), key, [{ path: 'files/a', data }]));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // reading a process's own /proc/self/mem at offset 0 fails with EIO, as a damaged disk's sector does
  const EIO = '/proc/self/mem';

  it('verify, inspect and diff refuse a file whose reads fail (EIO), exit 64', async () => {
    expectRefusal(await ferry(['verify', EIO, '--keyring', keyring]), 64, /^ferry: cannot read bundle \/proc\/self\/mem \(EIO\)$/);
    expectRefusal(await ferry(['inspect', EIO]), 64, /^ferry: cannot read bundle \/proc\/self\/mem \(EIO\)$/);
    expectRefusal(await ferry(['diff', EIO, join(dir, 'app.ferry')]), 64, /^ferry: cannot read bundle \/proc\/self\/mem \(EIO\)$/);
  });

  it('import refuses it, imports nothing and records the refusal', async () => {
    const store = join(dir, 'store');
    expectRefusal(await ferry(['import', EIO, '--keyring', keyring, '--store', store]), 64, /^ferry: cannot read bundle \/proc\/self\/mem \(EIO\)$/);
    const records = (await readFile(join(store, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ command: 'import', result: 'refused', exitCode: 64, bundle: { file: EIO, sha256: null } });
    const listed = await ferry(['list', '--store', store, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });

  it('verify, inspect and diff refuse a file this user may not open (EACCES), exit 64', async () => {
    // another user than root (the tests' user), who may read the folder and the keyring but not the bundle
    await chmod(dir, 0o755);
    const closed = join(dir, 'closed.ferry');
    await writeFile(closed, await readFile(join(dir, 'app.ferry')), { mode: 0o600 });
    const asNobody = (args: string[]) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, FERRY_BIN, ...args]);
    expectRefusal(await asNobody(['verify', closed, '--keyring', keyring]), 64, /^ferry: cannot read bundle .*closed\.ferry \(EACCES\)$/);
    expectRefusal(await asNobody(['inspect', closed]), 64, /^ferry: cannot read bundle .*closed\.ferry \(EACCES\)$/);
    // a manifest.json (as inspect --manifest prints it) given to diff
    const manifest = join(dir, 'closed.json');
    await writeFile(manifest, (await ferry(['inspect', join(dir, 'app.ferry'), '--manifest'])).stdout, { mode: 0o600 });
    expectRefusal(await asNobody(['diff', manifest, join(dir, 'app.ferry')]), 64, /^ferry: cannot read manifest .*closed\.json \(EACCES\)$/);
  });
});
