import { open } from 'node:fs/promises';
import { IntegrityError, StoreError } from '../errors.js';
import { sha256Hex } from '../util/sha256.js';
import { GENESIS, auditLogPath } from './auditLog.js';
import { checkStorePath } from './checkStorePath.js';

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
  // a FIFO there would block the read for ever, a link lead it out of the store (to /dev/zero, say)
  await checkStorePath(path, 'file');
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError(`${path}: no audit log (nothing was verified or imported with --store ${storeDir})`);
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const last = Buffer.alloc(1);
    if (size > 0 && ((await fh.read(last, 0, 1, size - 1)).bytesRead !== 1 || last[0] !== 0x0a)) {
      throw new IntegrityError(`${path}: the last line is not complete (no newline at the end): a write was cut short or the file was edited`);
    }
  } catch (err) {
    await fh.close();
    throw err;
  }
  let prev = GENESIS;
  let n = 0;
  // claiming records (by their line's sha256) that no outcome has named yet
  const claims = new Map<string, UnfinishedImport>();
  // each line's bytes as they come (read in pieces: the log may be larger than one string can hold)
  let parts: Buffer[] = [];
  let length = 0;
  const take = (piece: Buffer) => {
    if (length + piece.length > MAX_LINE_BYTES) throw new IntegrityError(`${path}: line ${n + 1} is longer than any record ferry writes (more than ${MAX_LINE_BYTES} bytes): the log was edited`);
    parts.push(piece);
    length += piece.length;
  };
  const line = () => {
    n++;
    const bytes = Buffer.concat(parts, length);
    parts = [];
    length = 0;
    let record: { prev?: unknown; result?: unknown; claim?: unknown; name?: unknown; version?: unknown; digest?: unknown };
    try {
      record = JSON.parse(bytes.toString('utf8')) as typeof record;
    } catch {
      throw new IntegrityError(`${path}: line ${n} is not a JSON record: the log was edited`);
    }
    if (record === null || typeof record !== 'object' || record.prev !== prev) {
      throw new IntegrityError(`${path}: line ${n} breaks the chain (its prev is ${String(record?.prev).slice(0, 100)}, the ${n === 1 ? 'genesis value' : `sha256 of line ${n - 1}`} is ${prev}): a line before it was removed, edited or moved, or it was`);
    }
    // the bytes as written, not their decoding: two edits that decode alike must not hash alike
    prev = sha256Hex(bytes);
    if (record.result === 'claiming') claims.set(prev, { line: n, name: stringOrNull(record.name), version: stringOrNull(record.version), digest: stringOrNull(record.digest) });
    if (typeof record.claim === 'string') claims.delete(record.claim);
  };
  try {
    for await (const chunk of fh.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>) {
      let from = 0;
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, from)) {
        take(chunk.subarray(from, at));
        line();
        from = at + 1;
      }
      if (from < chunk.length) take(chunk.subarray(from));
    }
  } finally {
    await fh.close();
  }
  // grown without a newline since the check above (an append under way): that line is not counted
  return { records: n, last: prev, unfinished: [...claims.values()] };
}

/** Far above the longest record ferry writes (a refusal's one line, a bundle path, 32 signers); a longer line is not a record. */
const MAX_LINE_BYTES = 16 << 20;

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
