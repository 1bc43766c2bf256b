import { mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { appendAuditRecord } from '../../src/store/appendAuditRecord.js';
import type { AuditEvent } from '../../src/store/auditLog.js';
import { verifyAuditLog } from '../../src/store/verifyAuditLog.js';

const event: AuditEvent = { command: 'verify', bundle: { file: 'app-1.0.0.ferry', sha256: null }, digest: null, name: 'app', version: '1.0.0', signers: [], policy: null, result: 'verified' };

/**
 * An append that the file system can take only in part (a full disk, the line crossing into a page that
 * needs a new block): the short write was taken for the whole line, the command said OK, and the next
 * line was glued to the cut one, so `ferry audit verify` reported an edited log (67). An ext2 image of
 * 1 KiB blocks on a loop device (root: skipped otherwise) with one block left, which the lock file takes.
 */
describe('the audit log on a file system that fills up during an append', () => {
  it('refuses the record with one line (71) and leaves the log at its last whole line', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip();
    const dir = await mkdtemp(join(tmpdir(), 'ferry-audit-full-'));
    const mnt = join(dir, 'mnt');
    let mounted = false;
    try {
      const image = join(dir, 'fs.img');
      expect((await run('truncate', ['-s', '8M', image])).code).toBe(0);
      expect((await run('mkfs.ext2', ['-q', '-F', '-m', '0', '-b', '1024', image])).code).toBe(0);
      await mkdir(mnt);
      mounted = (await run('mount', ['-o', 'loop', image, mnt])).code === 0;
      if (!mounted) ctx.skip();
      const store = join(mnt, 'store');
      const log = join(store, 'audit.log');
      // lines until the next one crosses into a new 4 KiB page (the part before the boundary has its block)
      await appendAuditRecord(store, event);
      const line = (await stat(log)).size;
      while ((await stat(log)).size % 4096 <= 4096 - line) await appendAuditRecord(store, event);
      const before = (await stat(log)).size;

      const filler = await open(join(mnt, 'filler'), 'w');
      try {
        for (const block = Buffer.alloc(1024); ; ) await filler.write(block);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      await filler.truncate((await filler.stat()).size - 1024); // one block free: the lock file's
      await filler.close();

      await expect(appendAuditRecord(store, event)).rejects.toThrow(/^[^\n]*audit\.log: cannot append the verify record \(verified\): the file system is full \(ENOSPC\)[^\n]*$/);
      expect((await stat(log)).size).toBe(before);
      await rm(join(mnt, 'filler'));
      await appendAuditRecord(store, event);
      expect((await verifyAuditLog(store)).records).toBe(before / line + 1);
    } finally {
      if (mounted) await run('umount', [mnt]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
