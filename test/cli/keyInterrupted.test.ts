import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, ferry, run } from '../helpers/cli.js';

/**
 * `ferry key generate --force` over an existing key, stopped by Ctrl-C as it puts the files in place:
 * the secret key, public key and revocation certificate must stay one set (all old or all new). The stop
 * is made deterministic by strace: SIGINT at the second rename, with one libuv thread so that renames are
 * counted in one thread whichever way ferry makes them.
 */
describe('ferry key generate interrupted', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-key-intr-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const fingerprint = async (file: string) => (await openpgp.readKey({ armoredKey: await readFile(file, 'utf8') })).getFingerprint();
  /** the fingerprint of the key a revocation certificate (one signature packet) revokes */
  const revokes = async (file: string) => {
    const { data } = await openpgp.unarmor(await readFile(file, 'utf8'));
    const [sig] = await openpgp.PacketList.fromBinary(data as Uint8Array, { [openpgp.enums.packet.signature]: openpgp.SignaturePacket });
    return Buffer.from((sig as openpgp.SignaturePacket).issuerFingerprint!).toString('hex');
  };

  it('SIGINT between the files: not killed by it, the three files one key, no temporary file left', async () => {
    const out = join(dir, 'team');
    const first = await ferry(['key', 'generate', '--name', 'Team', '--out', out]);
    expect(first.code, first.stderr).toBe(0);

    const stopped = await run('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'inject=rename:signal=INT:when=2', process.execPath, FERRY_BIN, 'key', 'generate', '--name', 'Team', '--out', out, '--force'], { env: { UV_THREADPOOL_SIZE: '1' } });
    // the signal is handled after the renames: either the command had finished (0), or it stops (130)
    expect([0, 130], stopped.stderr).toContain(stopped.code);
    if (stopped.code === 130) expect(stopped.stderr.trimEnd().split('\n').at(-1)).toMatch(/^ferry: interrupted by SIGINT: the key generation stopped; /);
    const secret = await fingerprint(`${out}.secret.asc`);
    expect(await fingerprint(`${out}.asc`)).toBe(secret);
    expect(await revokes(`${out}.revocation.asc`)).toBe(secret);
    expect((await readdir(dir)).sort()).toEqual(['team.asc', 'team.revocation.asc', 'team.secret.asc']);
  });
});
