import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile, readFile, readdir, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { ferry, FERRY_BIN } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { snapshotTree } from '../helpers/tree.js';

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out waiting');
}

describe('an import killed part-way', () => {
  it('leaves the store unchanged, and the next import of the same bundle succeeds and sweeps the scratch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-kill-'));
    const team = await writeKey(dir, 'team');
    await mkdir(join(dir, 'spec/files'), { recursive: true });
    await writeFile(join(dir, 'spec/files/a.bin'), randomBytes(4 << 20));
    await writeFile(join(dir, 'spec/files/b.bin'), randomBytes(4 << 20));
    await writeFile(
      join(dir, 'spec/app.yaml'),
      'name: app\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  app:\n    version: "1"\n    groups: [all]\n    artifacts:\n      files: [{ src: files/a.bin }, { src: files/b.bin }]\n',
    );
    const built = await ferry(['build', join(dir, 'spec/app.yaml'), '--key', team.secret, '--out', dir, '--cache', join(dir, 'cache')]);
    expect(built.code, built.stderr).toBe(0);
    const bundle = await readFile(join(dir, 'app-1.0.0.ferry'));
    // the store already holds another release, so "unchanged" is not trivially "empty"
    await writeFile(join(dir, 'spec/files/small.txt'), 'small\n');
    await writeFile(join(dir, 'spec/base.yaml'), 'name: base\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  base:\n    version: "1"\n    groups: [all]\n    artifacts:\n      files: [{ src: files/small.txt }]\n');
    expect((await ferry(['build', join(dir, 'spec/base.yaml'), '--key', team.secret, '--out', dir, '--cache', join(dir, 'cache')])).code).toBe(0);
    const store = join(dir, 'store');
    expect((await ferry(['import', join(dir, 'base-1.0.0.ferry'), '--keyring', team.public, '--store', store])).code).toBe(0);
    const before = await snapshotTree(store);

    // feed half the bundle through a pipe, wait until the importer is writing, then kill it hard
    const child = spawn(process.execPath, [FERRY_BIN, 'import', '-', '--keyring', team.public, '--store', store], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.on('error', () => {}); // EPIPE once it is killed
    child.stdin.write(bundle.subarray(0, bundle.length / 2));
    const scratch = join(store, '.tmp');
    await waitFor(async () => {
      const imports = await readdir(scratch).catch(() => []);
      for (const i of imports) if ((await readdir(join(scratch, i, 'tree')).catch(() => [])).length > 0) return true;
      return false;
    }, 600_000); // a hang detector: under load the importer may take long to start
    // the scratch names its importer by pid and start time (/proc/PID/stat field 22), not by a pid alone
    const [scratchName] = await readdir(scratch);
    const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    // and by its pid namespace (test/store/pidNamespace.test.ts)
    const ns = /^pid:\[(\d+)\]$/.exec(readlinkSync(`/proc/${child.pid}/ns/pid`))![1];
    expect(await readFile(join(scratch, scratchName!, 'pid'), 'utf8')).toBe(`${child.pid}.${start}.${ns}\n`);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    // the kernel gives the dead importer's pid to another process: the scratch is still stale
    const other = spawn('sleep', ['600'], { stdio: 'ignore' });
    const stopped = new Promise((r) => other.on('close', r));
    await writeFile(join(scratch, scratchName!, 'pid'), `${other.pid}.${start}.${ns}\n`);

    // nothing visible changed: no blob, no bundle, no ref; only the dead import's scratch remains
    const after = await snapshotTree(store);
    const visible = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([k]) => !k.startsWith('.tmp/')));
    expect(visible(after)).toEqual(visible(before));
    expect(Object.keys(after).some((k) => k.startsWith('.tmp/import-'))).toBe(true);

    const again = await ferry(['import', join(dir, 'app-1.0.0.ferry'), '--keyring', team.public, '--store', store]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('removed 1 scratch folder(s) left by interrupted imports');
    expect(await readdir(scratch)).toEqual([]);
    other.kill();
    await stopped;
    const list = await ferry(['list', '--store', store, '--json']);
    expect(JSON.parse(list.stdout).map((r: { name: string }) => r.name)).toEqual(['app', 'base']);
  });
});
