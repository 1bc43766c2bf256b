import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { until } from '../helpers/until.js';
import { buildAndImport, listTree, writeSpec } from './helpers.js';

/**
 * `ferry extract` stopped part-way (Ctrl-C, SIGTERM, SIGKILL) while it unpacks a new release's rootfs
 * over an older one. The stop is made deterministic by a FIFO in place of the stored tarball: the test
 * writes all of it for the listing extract reads first, then half of the tarball for the unpacking, waits until tar has put files into the scratch folder beside TO,
 * and only then sends the signal.
 */
describe('ferry extract interrupted', () => {
  let dir: string;
  let store: string;
  let tarball: string;
  let tarBytes: Buffer;
  let treeA: string;
  let treeB: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-extract-intr-'));
    const key = await writeKey(dir, 'team');
    store = join(dir, 'store');
    treeA = join(dir, 'tree-a');
    treeB = join(dir, 'tree-b');
    for (const [tree, n] of [[treeA, 2], [treeB, 40]] as const) {
      await mkdir(join(tree, 'etc'), { recursive: true });
      await writeFile(join(tree, 'etc/os-release'), `NAME=${tree}\n`);
      // random bytes: gzip keeps their size, so half the tarball is half the files
      for (let i = 0; i < n; i++) await writeFile(join(tree, `etc/f${i}.bin`), randomBytes(64 << 10));
    }
    await rename(treeA, join(dir, 'tree'));
    await buildAndImport({ spec: await writeSpec(dir, 'rootfs:\n  base: { directory: { path: tree } }\n', 'ri', '1.0.0'), key, out: join(dir, 'out'), cache: join(dir, 'cache'), store });
    await rename(join(dir, 'tree'), treeA);
    await rename(treeB, join(dir, 'tree'));
    const b = await buildAndImport({ spec: await writeSpec(dir, 'rootfs:\n  base: { directory: { path: tree } }\n', 'ri', '2.0.0'), key, out: join(dir, 'out'), cache: join(dir, 'cache'), store });
    await rename(join(dir, 'tree'), treeB);
    const manifest = JSON.parse(await readFile(join(store, 'bundles', b.digest, 'manifest.json'), 'utf8'));
    tarball = join(store, 'bundles', b.digest, manifest.artifacts.rootfs.base.path);
    tarBytes = await readFile(tarball);
  });

  /** the command lines (NUL-separated) of a process's children */
  async function childCommands(pid: number): Promise<string[]> {
    const ids = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).split(' ').filter(Boolean);
    return Promise.all(ids.map((id) => readFile(`/proc/${id}/cmdline`, 'utf8').catch(() => '')));
  }

  /** the names beside TO that are not TO */
  const beside = async (to: string) => (await readdir(join(to, '..'))).filter((n) => n !== 'to' && n.startsWith('.'));

  /** extract release 2 over TO (which holds release 1) and stop it by `signal` once tar has unpacked some files */
  async function stopMidway(to: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    await rm(tarball);
    const made = await run('mkfifo', [tarball]);
    expect(made.code, made.stderr).toBe(0);
    const child = spawn(process.execPath, [FERRY_BIN, 'extract', 'ri/2.0.0', 'rootfs/base', '--store', store, '--to', to], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('close', (code, sig) => r({ code, signal: sig })));
    // extract lists the tarball first (the room it needs, sources/checkRoom.ts): that read gets all of it,
    // and the half below is written only once the listing tar has let go of the FIFO
    const listed = await open(tarball, 'w');
    await listed.write(tarBytes).finally(() => listed.close());
    await until('the listing tar to exit', async () => !(await childCommands(child.pid!)).some((c) => c.startsWith('tar\0-t')));
    const fifo = await open(tarball, 'w');
    try {
      await fifo.write(tarBytes.subarray(0, tarBytes.length >> 1));
      await until('tar to unpack files into the scratch folder', async () => {
        for (const n of await beside(to)) if ((await readdir(join(to, '..', n, 'etc')).catch(() => [])).length > 2) return true;
        return false;
      });
      child.kill(signal);
      // a process blocked in a read of the FIFO finishes exiting only once the read returns: the writer
      // end is closed once ferry has handled the signal (its line is out), or right away for a SIGKILL
      if (signal !== 'SIGKILL') await until(`ferry to report the ${signal}`, () => stderr.includes('interrupted by') || child.exitCode !== null || child.signalCode !== null);
      await fifo.close();
      const end = await exited;
      return { ...end, stderr };
    } finally {
      await fifo.close().catch(() => {});
      await rm(tarball);
      await writeFile(tarball, tarBytes);
    }
  }

  async function freshTo(name: string): Promise<string> {
    const parent = join(dir, name);
    await mkdir(parent);
    const to = join(parent, 'to');
    const r = await ferry(['extract', 'ri/1.0.0', 'rootfs/base', '--store', store, '--to', to]);
    expect(r.code, r.stderr).toBe(0);
    return to;
  }

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal}: exit ${code} with one line, the old tree whole, no scratch left beside it`, async () => {
      const to = await freshTo(`p-${signal}`);
      const stopped = await stopMidway(to, signal);
      expect(stopped, stopped.stderr).toMatchObject({ code, signal: null });
      expect(stopped.stderr.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^ferry: interrupted by ${signal}: the extract stopped; `));
      expect(await listTree(to)).toEqual(await listTree(treeA));
      expect(await beside(to)).toEqual([]);
      const again = await ferry(['extract', 'ri/2.0.0', 'rootfs/base', '--store', store, '--to', to]);
      expect(again.code, again.stderr).toBe(0);
      expect(await listTree(to)).toEqual(await listTree(treeB));
      expect(await beside(to)).toEqual([]);
    });
  }

  it('SIGKILL: the next run removes the dead run\'s scratch (not a live one\'s, not through a link) and extracts', async () => {
    const to = await freshTo('p-kill');
    const stopped = await stopMidway(to, 'SIGKILL');
    expect(stopped.signal).toBe('SIGKILL');
    expect(await listTree(to)).toEqual(await listTree(treeA));
    const left = await beside(to);
    expect(left).toHaveLength(1);
    // what an extract killed after its swap left: the old tree set aside
    const dead = spawn('true');
    const deadPid = await new Promise<number>((r) => dead.once('close', () => r(dead.pid!)));
    await mkdir(join(to, '..', `.to.ferry-old-${deadPid}-0badf00d`, 'etc'), { recursive: true });
    // a running extract's scratch (this test's process stands for it), and a link under a scratch name
    const live = join(to, '..', `.to.ferry-new-${process.pid}-1234abcd`);
    await mkdir(live);
    const target = join(dir, 'not-scratch');
    await mkdir(target);
    await writeFile(join(target, 'keep'), 'keep\n');
    await symlink(target, join(to, '..', `.to.ferry-new-${deadPid}-5678abcd`));

    const again = await ferry(['extract', 'ri/2.0.0', 'rootfs/base', '--store', store, '--to', to]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('removed 2 scratch folder(s) left by interrupted extracts');
    expect(await listTree(to)).toEqual(await listTree(treeB));
    expect((await beside(to)).sort()).toEqual([`.to.ferry-new-${deadPid}-5678abcd`, `.to.ferry-new-${process.pid}-1234abcd`].sort());
    expect(await readFile(join(target, 'keep'), 'utf8')).toBe('keep\n');
  });
});
