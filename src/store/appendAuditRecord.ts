import { hostname, userInfo } from 'node:os';
import { constants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { StoreError } from '../errors.js';
import { sha256Hex } from '../util/sha256.js';
import { makeDirectory } from '../util/makeDirectory.js';
import { writeAll } from '../util/writeAll.js';
import { checkStorePath } from './checkStorePath.js';
import { takeFileLock } from '../util/fileLock.js';
import { GENESIS, auditLockPath, auditLogPath, type AuditEvent, type AuditRecord } from './auditLog.js';

const LOCK_WAIT_MS = 60_000;

/**
 * Append one record to STORE/audit.log. Two appenders that read the same last line would both chain to
 * it, so the read of the last line and the append happen under STORE/audit.log.lock (created with
 * O_EXCL, holding the appender's identity, util/processIdentity.ts; a lock whose process is gone is taken over). The line goes out in one write
 * on an O_APPEND descriptor (a write a full file system cuts short is taken back and refused, exit 71) and is synced before the lock is released. Returns the line's sha256 (what the
 * next record's `prev`, or an import outcome's `claim`, names).
 */
export async function appendAuditRecord(storeDir: string, event: AuditEvent, now = new Date()): Promise<string> {
  try {
    return await appendLocked(storeDir, event, now);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // a full disk is the operator's to fix (ferry gc frees space), not a bug of ferry's
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new StoreError(`${auditLogPath(storeDir)}: cannot append the ${event.command} record (${event.result}${event.reason ? `: ${event.reason}` : ''}): the file system is full (${code}); free space (ferry gc) and run it again`, { cause: err });
    }
    throw err;
  }
}

async function appendLocked(storeDir: string, event: AuditEvent, now: Date): Promise<string> {
  await makeDirectory(storeDir);
  const release = await takeLock(auditLockPath(storeDir), storeDir);
  try {
    // a link planted as audit.log would send the append out of the store
    await checkStorePath(auditLogPath(storeDir), 'file');
    const prev = await lastLineHash(auditLogPath(storeDir));
    const record: AuditRecord = { time: now.toISOString(), operator: operator(), ...event, prev };
    const line = JSON.stringify(record);
    const fh = await open(auditLogPath(storeDir), 'a', 0o644);
    try {
      const { size } = await fh.stat();
      try {
        // a write cut short (a full disk) goes on with the rest, so the error is the file system's
        await writeAll(fh, [Buffer.from(`${line}\n`)]);
        await fh.datasync();
      } catch (err) {
        // the next line would be glued to a cut one and break the chain: back to the last whole line
        await fh.truncate(size).catch(() => {});
        throw err;
      }
    } finally {
      await fh.close();
    }
    return sha256Hex(line);
  } finally {
    await release();
  }
}

function operator(): { user: string; host: string } {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? String(process.getuid?.() ?? 'unknown');
  }
  return { user, host: hostname() };
}

/**
 * sha256 of the last line's bytes (GENESIS for an empty or missing log), read from the end: a log that
 * grew past what one string can hold (512 MiB) stopped every import, and reading it whole made each
 * append cost the whole log. The line is hashed as it is on disk, as verifyAuditLog hashes it.
 */
async function lastLineHash(path: string): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return GENESIS;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(TAIL_CHUNK);
    const readAt = async (pos: number, len: number) => buf.subarray(0, (await fh.read(buf, 0, len, pos)).bytesRead);
    // the line ends before a final newline; it starts after the newline before that, or at 0
    let end = size;
    if (end > 0 && (await readAt(end - 1, 1))[0] === 0x0a) end--;
    if (end === 0) return GENESIS;
    let start = 0;
    for (let pos = end; pos > 0; ) {
      const from = Math.max(0, pos - TAIL_CHUNK);
      const at = (await readAt(from, pos - from)).lastIndexOf(0x0a);
      if (at !== -1) {
        start = from + at + 1;
        break;
      }
      pos = from;
    }
    const hash = createHash('sha256');
    for (let pos = start; pos < end; ) {
      const got = await readAt(pos, Math.min(TAIL_CHUNK, end - pos));
      if (got.length === 0) break;
      hash.update(got);
      pos += got.length;
    }
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

const TAIL_CHUNK = 64 << 10;

/**
 * Before a verify or import: refuse now, when its record could not be appended afterwards (a link or a
 * folder planted as audit.log, a log or store folder that cannot be written), rather than import a
 * release the log then does not name.
 */
export async function checkAuditAppendable(storeDir: string): Promise<void> {
  const log = auditLogPath(storeDir);
  await makeDirectory(storeDir).catch((err: NodeJS.ErrnoException) => {
    const code = err.code === 'EEXIST' || err.code === 'ENOTDIR' ? `${err.code}: something else is there` : (err.code ?? err.message);
    throw new StoreError(`${storeDir}: cannot make the store folder (${code}); nothing was done: give --store a folder this user can write`, { cause: err });
  });
  await checkStorePath(log, 'file');
  await checkStorePath(auditLockPath(storeDir), 'file');
  try {
    await access(storeDir, constants.W_OK);
    await (await open(log, 'a', 0o644)).close();
  } catch (err) {
    throw new StoreError(`${log}: cannot append to the audit log (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); nothing was done: make the store writable for this user`);
  }
}

function takeLock(lock: string, storeDir: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  return takeFileLock(lock, {
    // a folder, link or FIFO planted as the lock could never be read nor released: refused (71), not waited on
    check: async (path) => (await checkStorePath(path, 'file')) !== undefined,
    busy: (holder) => {
      if (Date.now() > deadline) {
        throw new StoreError(`${storeDir}: the audit log is locked by process ${holder} (${lock}) for over a minute: if no ferry runs there, remove the lock file`);
      }
    },
  });
}
