import { readFile } from 'node:fs/promises';
import { IntegrityError, StoreError } from '../errors.js';
import { sha256Hex } from '../util/sha256.js';
import { GENESIS, auditLogPath } from './auditLog.js';

/** An import that recorded `claiming` and no outcome: killed while its release was becoming visible. */
export interface UnfinishedImport {
  /** the line number of its `claiming` record */
  line: number;
  name: string | null;
  version: string | null;
  digest: string | null;
}

/**
 * Check STORE/audit.log's hash chain; returns the number of records, and the imports that wrote their
 * `claiming` record (their release was about to become visible) but no outcome naming it: stopped there.
 * Throws IntegrityError (67) naming the first line that is not a record or whose `prev` is not the sha256 of the line before it: a line
 * removed, edited or moved breaks the chain there. A removed last line leaves no trace in the chain
 * itself: compare the count with a copy kept elsewhere (docs: README "Audit log").
 */
export async function verifyAuditLog(storeDir: string): Promise<{ records: number; last: string; unfinished: UnfinishedImport[] }> {
  const path = auditLogPath(storeDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError(`${path}: no audit log (nothing was verified or imported with --store ${storeDir})`);
    throw err;
  }
  if (text.length > 0 && !text.endsWith('\n')) throw new IntegrityError(`${path}: the last line is not complete (no newline at the end): a write was cut short or the file was edited`);
  const lines = text.split('\n');
  lines.pop();
  let prev = GENESIS;
  // claiming records (by their line's sha256) that no outcome has named yet
  const claims = new Map<string, UnfinishedImport>();
  lines.forEach((line, i) => {
    const n = i + 1;
    let record: { prev?: unknown; result?: unknown; claim?: unknown; name?: unknown; version?: unknown; digest?: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      throw new IntegrityError(`${path}: line ${n} is not a JSON record: the log was edited`);
    }
    if (record === null || typeof record !== 'object' || record.prev !== prev) {
      throw new IntegrityError(`${path}: line ${n} breaks the chain (its prev is ${String(record?.prev)}, the ${n === 1 ? 'genesis value' : `sha256 of line ${n - 1}`} is ${prev}): a line before it was removed, edited or moved, or it was`);
    }
    prev = sha256Hex(line);
    if (record.result === 'claiming') claims.set(prev, { line: n, name: stringOrNull(record.name), version: stringOrNull(record.version), digest: stringOrNull(record.digest) });
    if (typeof record.claim === 'string') claims.delete(record.claim);
  });
  return { records: lines.length, last: prev, unfinished: [...claims.values()] };
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
