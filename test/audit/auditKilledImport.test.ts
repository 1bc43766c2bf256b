import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, ferry, run } from '../helpers/cli.js';
import { buildDemoBundle } from '../helpers/demoBundle.js';
import { writeKey } from '../helpers/keys.js';

let dir: string;
let bundle: string;
let key: { secret: string; public: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-audit-killed-'));
  key = await writeKey(dir, 'team');
  bundle = await buildDemoBundle(dir, key.secret);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const records = async (store: string) =>
  (await readFile(join(store, 'audit.log'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('an import killed after its ref was claimed, before its outcome was recorded', () => {
  it('leaves a release that the audit log names, and audit verify reports the import that recorded no outcome', async () => {
    const store = join(dir, 'store');
    // claimRef links the ref into STORE/refs/demo and then opens that folder to fsync it: the first
    // open of the folder itself comes after the ref exists, and SIGKILL there stops ferry for good
    const killed = await run('strace', ['-f', '-qq', '-o', '/dev/null', '-P', join(store, 'refs', 'demo'), '-e', 'inject=openat:signal=KILL:when=1', process.execPath, FERRY_BIN, 'import', bundle, '--keyring', key.public, '--store', store]);
    expect(killed.code, killed.stderr).not.toBe(0);
    // the release is visible ...
    const listed = await ferry(['list', '--store', store]);
    expect(listed.stdout).toContain('demo');
    const digest = (await readFile(join(store, 'refs', 'demo', '1.0.0'), 'utf8')).trim();
    // ... and the log names it
    const recs = await records(store);
    expect(recs.some((r) => r.name === 'demo' && r.version === '1.0.0' && r.digest === digest)).toBe(true);
    expect(recs.map((r) => r.result)).toEqual(['claiming']);
    const v = await ferry(['audit', 'verify', '--store', store]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain('1 records, chain intact');
    expect(v.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^warning: .*line 1: an import of demo 1\.0\.0 \([0-9a-f]{64}\) claimed its release and recorded no outcome \(it was stopped\); the store holds it$/)]);
    // the import again: already present, its record closes nothing (the killed one stays unfinished)
    const again = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
    expect(again.code, again.stderr).toBe(0);
    expect((await records(store)).map((r) => r.result)).toEqual(['claiming', 'already present']);
  });

  it('a finished import writes its claim and then its outcome, which names the claim; audit verify warns of nothing', async () => {
    const store = join(dir, 'store-ok');
    expect((await ferry(['import', bundle, '--keyring', key.public, '--store', store])).code).toBe(0);
    const recs = await records(store);
    expect(recs.map((r) => r.result)).toEqual(['claiming', 'imported']);
    const raw = (await readFile(join(store, 'audit.log'), 'utf8')).split('\n')[0]!;
    const { sha256Hex } = await import('../../src/util/sha256.js');
    expect(recs[1]).toMatchObject({ claim: sha256Hex(raw), name: 'demo', version: '1.0.0', digest: recs[0]!.digest, signers: recs[0]!.signers });
    const v = await ferry(['audit', 'verify', '--store', store]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toBe('');
  });
});
