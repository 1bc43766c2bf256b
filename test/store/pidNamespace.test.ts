import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, FERRY_BIN } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { until } from '../helpers/until.js';
import { isIdentityAlive } from '../../src/util/processIdentity.js';

const ownNs = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))![1]!;

/**
 * Two containers (two pid namespaces) sharing a store number their processes each from 1: a pid alone, or
 * with its start time, says nothing about a process of the other. gc in one judged the other's running
 * import dead by its pid, removed its scratch and ran beside it.
 */
describe('processes of another pid namespace sharing a store', () => {
  it("gc and a second import leave a running import of another pid namespace alone; that import then completes", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pidns-'));
    try {
      const team = await writeKey(dir, 'team');
      await mkdir(join(dir, 'spec/files'), { recursive: true });
      await writeFile(join(dir, 'spec/files/a.bin'), randomBytes(4 << 20));
      await writeFile(join(dir, 'spec/files/b.bin'), randomBytes(4 << 20));
      await writeFile(join(dir, 'spec/files/small.txt'), 'small\n');
      const spec = (name: string, files: string) =>
        `name: ${name}\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  ${name}:\n    version: "1"\n    groups: [all]\n    artifacts:\n      files: [${files}]\n`;
      await writeFile(join(dir, 'spec/app.yaml'), spec('app', '{ src: files/a.bin }, { src: files/b.bin }'));
      await writeFile(join(dir, 'spec/base.yaml'), spec('base', '{ src: files/small.txt }'));
      for (const name of ['app', 'base']) {
        const built = await ferry(['build', join(dir, `spec/${name}.yaml`), '--key', team.secret, '--out', dir, '--cache', join(dir, 'cache')]);
        expect(built.code, built.stderr).toBe(0);
      }
      const bundle = await readFile(join(dir, 'app-1.0.0.ferry'));
      const store = join(dir, 'store');

      // an import in a pid namespace of its own (as in a container), fed half its bundle, so it is writing
      const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, FERRY_BIN, 'import', '-', '--keyring', team.public, '--store', store], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const closed = new Promise<number | null>((r) => child.on('close', r));
      child.stdin.on('error', () => {});
      child.stdin.write(bundle.subarray(0, bundle.length / 2));
      const scratch = join(store, '.tmp');
      await until('the importer to write', async () => {
        for (const i of await readdir(scratch).catch(() => [])) if ((await readdir(join(scratch, i, 'tree')).catch(() => [])).length > 0) return true;
        return false;
      }, 20);
      const [scratchName] = await readdir(scratch);
      // its identity names its own namespace: PID.START.PIDNS
      const identity = (await readFile(join(scratch, scratchName!, 'pid'), 'utf8')).trim();
      const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(identity);
      expect(m, identity).not.toBeNull();
      expect(m![3]).not.toBe(ownNs);
      expect(isIdentityAlive(identity)).toBe(true);

      // gc here cannot ask about a process there: it counts as running, gc refuses and removes nothing
      const gc = await ferry(['gc', '--store', store, '--keep', '1']);
      expect(gc.code, gc.stderr).toBe(71);
      expect(gc.stderr.trim().split('\n')).toHaveLength(1);
      expect(gc.stderr).toContain(`an import (pid ${m![1]}, ${join(scratch, scratchName!)}) is running on ${store}`);
      expect(gc.stderr).toContain('if none runs, remove that folder');
      // another import here sweeps stale scratch first: not that one
      const other = await ferry(['import', join(dir, 'base-1.0.0.ferry'), '--keyring', team.public, '--store', store]);
      expect(other.code, other.stderr).toBe(0);
      expect(other.stderr).not.toContain('removed');
      expect(await readdir(scratch)).toContain(scratchName);

      child.stdin.end(bundle.subarray(bundle.length / 2));
      expect(await closed, stderr).toBe(0);
      const list = await ferry(['list', '--store', store, '--json']);
      expect(JSON.parse(list.stdout).map((r: { name: string }) => r.name).sort()).toEqual(['app', 'base']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a process of this namespace that is gone is dead; the same pid and start time of another namespace cannot be judged', () => {
    // field 22 of /proc/self/stat: when this process started
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
    // this process, as written with and without its namespace
    expect(isIdentityAlive(`${process.pid}.${start}.${ownNs}`)).toBe(true);
    expect(isIdentityAlive(`${process.pid}.${start}`)).toBe(true);
    // its pid with another start time: the kernel gave the pid to a new process
    expect(isIdentityAlive(`${process.pid}.${Number(start) + 1}.${ownNs}`)).toBe(false);
    // no process has pid 4194304 or more (the kernel's limit): dead here, unknown in another namespace
    expect(isIdentityAlive(`4194304.1.${ownNs}`)).toBe(false);
    expect(isIdentityAlive(`4194304.1.${Number(ownNs) + 1}`)).toBe(true);
  });
});
