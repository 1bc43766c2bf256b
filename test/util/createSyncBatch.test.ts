import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSyncBatch } from '../../src/util/createSyncBatch.js';

const dir = mkdtempSync(join(tmpdir(), `ferry-syncbatch-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createSyncBatch', () => {
  it('syncs a large file as soon as it is added and small ones in the pass, each once, the large before the pass (strace)', () => {
    const small = join(dir, 'small');
    const large = join(dir, 'large');
    writeFileSync(small, 'x'.repeat(1000));
    writeFileSync(large, Buffer.alloc(9 << 20, 1));
    const dist = new URL('../../dist/util/createSyncBatch.js', import.meta.url).href;
    // the small file is added first: in one pass it would be synced first
    const script = `const { createSyncBatch } = await import(${JSON.stringify(dist)}); const b = createSyncBatch(); b.add(${JSON.stringify(small)}, 1000); b.add(${JSON.stringify(large)}, ${9 << 20}); await b.flush();`;
    const log = join(dir, 'strace.txt');
    execFileSync('strace', ['-f', '-e', 'trace=openat,fdatasync', '-o', log, process.execPath, '--input-type=module', '-e', script]);
    const open = new Map<string, string>();
    const synced: string[] = [];
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const opened = /openat\(AT_FDCWD, "([^"]+)", [^)]*\) = (\d+)$/.exec(line);
      if (opened) open.set(opened[2]!, opened[1]!);
      const sync = /fdatasync\((\d+)[ )]/.exec(line);
      if (sync) synced.push(open.get(sync[1]!) ?? `fd ${sync[1]}`);
    }
    expect(synced).toEqual([large, small]);
  });

  it('makes a pass over 64 files or more one syncfs of their file system, no fsync each (strace -f)', () => {
    const many = join(dir, 'many');
    const files = Array.from({ length: 64 }, (_, i) => join(many, `f${i}`));
    execFileSync('mkdir', ['-p', many]);
    for (const f of files) writeFileSync(f, 'x');
    const dist = new URL('../../dist/util/createSyncBatch.js', import.meta.url).href;
    const script = `const { createSyncBatch } = await import(${JSON.stringify(dist)}); const b = createSyncBatch(); for (const f of ${JSON.stringify(files)}) b.add(f, 1); await b.flush();`;
    const log = join(dir, 'strace-many.txt');
    execFileSync('strace', ['-f', '-e', 'trace=fsync,fdatasync,syncfs', '-o', log, process.execPath, '--input-type=module', '-e', script]);
    const calls = readFileSync(log, 'utf8').split('\n').map((line) => /\b(fsync|fdatasync|syncfs)\(/.exec(line)?.[1]).filter((c) => c !== undefined);
    expect(calls).toEqual(['syncfs']);
    // one file fewer: an fdatasync per file and an fsync for the folder, as before
    const fewer = `const { createSyncBatch } = await import(${JSON.stringify(dist)}); const b = createSyncBatch(); for (const f of ${JSON.stringify(files.slice(1))}) b.add(f, 1); await b.flush();`;
    execFileSync('strace', ['-f', '-e', 'trace=fsync,fdatasync,syncfs', '-o', log, process.execPath, '--input-type=module', '-e', fewer]);
    const each = readFileSync(log, 'utf8').split('\n').map((line) => /\b(fsync|fdatasync|syncfs)\(/.exec(line)?.[1]).filter((c) => c !== undefined);
    expect(each.filter((c) => c === 'fdatasync')).toHaveLength(63);
    expect(each).not.toContain('syncfs');
  });

  it('skips folders removed before a syncfs pass', async () => {
    const gone = join(dir, 'gone-folder');
    execFileSync('mkdir', ['-p', gone]);
    const b = createSyncBatch();
    for (let i = 0; i < 64; i++) b.add(join(gone, `f${i}`), 1);
    rmSync(gone, { recursive: true });
    await expect(b.flush()).resolves.toBeUndefined();
  });

  it('throws from flush what an early sync met, and what a sync in the pass met', async () => {
    // procfs files open, but refuse fdatasync (EINVAL)
    const early = createSyncBatch();
    early.add('/proc/self/status', 9 << 20);
    await expect(early.flush()).rejects.toMatchObject({ code: 'EINVAL' });
    const pass = createSyncBatch();
    pass.add('/proc/self/status', 10);
    await expect(pass.flush()).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('skips a file removed before its sync, large or small', async () => {
    const b = createSyncBatch();
    b.add(join(dir, 'gone-large'), 9 << 20);
    b.add(join(dir, 'gone-small'), 1);
    await expect(b.flush()).resolves.toBeUndefined();
  });
});
