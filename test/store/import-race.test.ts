import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import { StoreError } from '../../src/errors.js';
import { importBundle } from '../../src/store/importBundle.js';
import { collectGarbage } from '../../src/store/collectGarbage.js';
import { listReleases } from '../../src/store/listReleases.js';
import { manifestDigest, serializeManifest, type Manifest } from '../../src/bundle/manifest.js';
import { generateKey } from '../../src/pgp/generateKey.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { FERRY_BIN } from '../helpers/cli.js';

/**
 * Two imports of different bundles under one NAME/VERSION at the same time: exactly one wins (the ref
 * is created exclusively), the other is refused with exit 71 and leaves no ref, no bundle tree and no
 * scratch. The only trace it may leave is blobs no release uses, which the next gc removes.
 */
describe('concurrent imports of one NAME/VERSION', () => {
  let dir: string;
  let key: openpgp.PrivateKey;
  const bundles: Array<{ bytes: Buffer; manifest: Manifest; digest: string; file: string }> = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-import-race-'));
    const k = await generateKey({ name: 'race team' });
    key = await openpgp.readPrivateKey({ armoredKey: k.secretArmored });
    await writeFile(join(dir, 'team.asc'), k.publicArmored);
    for (const who of ['a', 'b']) {
      // a file both share (one blob either way) and one of each's own
      const files = [
        { path: 'files/app/shared.txt', data: Buffer.from('the same in both\n') },
        { path: `files/app/only-${who}.txt`, data: Buffer.from(`only in bundle ${who}\n`) },
      ];
      const manifest = manifestFor(files, { name: 'app', version: '1.0.0', created_by: `builder ${who}` });
      const bytes = await craftBundle(manifest, key, files);
      const file = join(dir, `app-${who}.ferry`);
      await writeFile(file, bytes);
      bundles.push({ bytes, manifest, digest: manifestDigest(serializeManifest(manifest)), file });
    }
    expect(bundles[0]!.digest).not.toBe(bundles[1]!.digest);
  });

  /** What must hold whoever won: one release, its tree only, no scratch; the loser's blobs are gc's. */
  async function expectOneWinner(store: string, winner: number, loserMessage: string): Promise<void> {
    const win = bundles[winner]!;
    expect(loserMessage).toContain(`the store already holds app 1.0.0 as ${win.digest}, this bundle is ${bundles[1 - winner]!.digest}`);
    expect(await readFile(join(store, 'refs/app/1.0.0'), 'utf8')).toBe(`${win.digest}\n`);
    expect(await readdir(join(store, 'bundles'))).toEqual([win.digest]);
    expect(await readdir(join(store, '.tmp'))).toEqual([]);
    expect((await listReleases(store)).map((r) => r.digest)).toEqual([win.digest]);
    const wanted = new Set(win.manifest.entries.map((e) => e.sha256));
    const loserOnly = bundles[1 - winner]!.manifest.entries.map((e) => e.sha256).filter((h) => !wanted.has(h));
    const blobs = await readdir(join(store, 'blobs/sha256'));
    const extra = blobs.filter((b) => !wanted.has(b));
    expect([...wanted].every((h) => blobs.includes(h))).toBe(true);
    expect(extra.every((b) => loserOnly.includes(b))).toBe(true);
    const gc = await collectGarbage({ storeDir: store, keep: 1 });
    expect(gc.blobs).toBe(extra.length);
    expect((await readdir(join(store, 'blobs/sha256'))).sort()).toEqual([...wanted].sort());
  }

  it('in process, both past every check before either publishes (a barrier): exactly one wins, 30 times', async () => {
    const pub = key.toPublic();
    const wins = [0, 0];
    for (let round = 0; round < 30; round++) {
      const store = join(dir, `barrier-${round}`);
      // each import waits in checkTree (its tree verified, the ref checked as free) until both are there
      let arrived = 0;
      let release!: () => void;
      const bothThere = new Promise<void>((r) => (release = r));
      const checkTree = async () => {
        if (++arrived === 2) release();
        await bothThere;
      };
      // alternate who starts first, so neither order is favoured by the event loop
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      const settled = await Promise.allSettled(order.map((i) => importBundle(Readable.from([bundles[i]!.bytes]), { storeDir: store, keys: [pub], checkTree })));
      const results = order.map((i, k) => ({ i, r: settled[k]! }));
      const won = results.filter((x) => x.r.status === 'fulfilled');
      const lost = results.filter((x) => x.r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const reason = (lost[0]!.r as PromiseRejectedResult).reason as Error;
      expect(reason).toBeInstanceOf(StoreError);
      expect((reason as StoreError).exitCode).toBe(71);
      await expectOneWinner(store, won[0]!.i, reason.message);
      wins[won[0]!.i]!++;
    }
    expect(wins[0]! + wins[1]!).toBe(30);
  });

  it('two real ferry import processes started together: one exits 0, the other 71 with one line, whatever the interleaving', async () => {
    for (let round = 0; round < 4; round++) {
      const store = join(dir, `processes-${round}`);
      const runs = await Promise.all(bundles.map((b) => runImport(b.file, store)));
      expect(runs.map((r) => r.code).sort(), runs.map((r) => r.stderr).join('\n')).toEqual([0, 71]);
      const winner = runs.findIndex((r) => r.code === 0);
      const loser = runs[1 - winner]!;
      const lines = loser.stderr.split('\n').filter((l) => l.startsWith('ferry: '));
      expect(lines).toHaveLength(1);
      expect(loser.stderr).not.toMatch(/\n\s+at /); // no stack trace
      await expectOneWinner(store, winner, lines[0]!);
    }
  });

  function runImport(file: string, store: string): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [FERRY_BIN, 'import', file, '--keyring', join(dir, 'team.asc'), '--store', store], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
    });
  }
});
