import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, FERRY_BIN, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';

describe('import flushes large entries as it goes', () => {
  it('fdatasyncs each entry of 8 MiB or more once it is complete, before the final flush, and leaves small ones to it (strace)', async () => {
    const dir = await mkdtemp(join(tmpdir(), `ferry-flush-${process.pid}-`));
    try {
      const team = await writeKey(dir, 'team');
      await mkdir(join(dir, 'spec/files'), { recursive: true });
      const files: Record<string, Buffer> = { 'big-a.bin': randomBytes(9 << 20), 'big-b.bin': randomBytes(12 << 20), 'small.txt': randomBytes(4096), 'mid.bin': randomBytes(1 << 20) };
      for (const [name, data] of Object.entries(files)) await writeFile(join(dir, 'spec/files', name), data);
      await writeFile(
        join(dir, 'spec/app.yaml'),
        `name: app\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  app:\n    version: "1"\n    groups: [all]\n    artifacts:\n      files: [${Object.keys(files).map((f) => `{ src: files/${f} }`).join(', ')}]\n`,
      );
      const built = await ferry(['build', join(dir, 'spec/app.yaml'), '--key', team.secret, '--out', dir, '--cache', join(dir, 'cache')]);
      expect(built.code, built.stderr).toBe(0);

      const store = join(dir, 'store');
      const log = join(dir, 'strace.txt');
      // -y: strace names each descriptor's file in the call itself, so no openat has to be matched to its fdatasync
      // (an openat or fdatasync another thread interrupts is split in two lines; the path is on the first)
      const imported = await run('strace', ['-f', '-y', '-e', 'trace=fdatasync,execve', '-o', log, process.execPath, FERRY_BIN, 'import', join(dir, 'app-1.0.0.ferry'), '--keyring', team.public, '--store', store]);
      expect(imported.code, imported.stderr).toBe(0);

      const flushed: Array<{ path: string; at: number }> = [];
      let syncRan = -1;
      const lines = (await readFile(log, 'utf8')).split('\n');
      lines.forEach((line, at) => {
        const sync = /fdatasync\(\d+<([^>]*)>/.exec(line);
        if (sync) flushed.push({ path: sync[1]!, at });
        if (/execve\("[^"]*\/sync", \["sync", "--file-system"/.test(line) && syncRan < 0) syncRan = at;
      });
      // (the store's own small files, such as its audit log, are flushed on their own: only the tree's count here)
      const tree = flushed.filter((f) => f.path.includes('/tree/'));
      expect(tree.map((f) => f.path.split('/tree/')[1]).sort()).toEqual(['files/app/big-a.bin', 'files/app/big-b.bin']);
      // both flushed before the one syncfs that makes the tree durable
      expect(syncRan).toBeGreaterThan(Math.max(...tree.map((f) => f.at)));

      // and the store holds every file whole
      const listed = await ferry(['list', '--store', store]);
      expect(listed.code, listed.stderr).toBe(0);
      for (const data of Object.values(files)) {
        const blob = await readFile(join(store, 'blobs/sha256', createHash('sha256').update(data).digest('hex')));
        expect(blob.equals(data)).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
