import { FerryError } from '../errors.js';
import { appendAuditRecord, checkAuditAppendable } from '../store/appendAuditRecord.js';
import type { AuditEvent } from '../store/auditLog.js';
import { stat } from 'node:fs/promises';
import { sha256File } from '../util/sha256.js';

/** What a verify or import learned, filled in as it goes (a refusal after the head still names the bundle). */
export interface Seen {
  digest?: string;
  name?: string;
  version?: string;
  signers?: string[];
  policy?: AuditEvent['policy'];
  /** blobs an import rewrote (importBundle's onRepaired): recorded whatever its outcome */
  repaired?: string[];
}

/**
 * Run a verify or import and append its outcome to STORE/audit.log, refusals included (then rethrow).
 * Without a store (verify without --store) nothing is recorded. An import calls `claiming` just before
 * its release becomes visible (importBundle's beforeClaim): a `claiming` record names the release then,
 * and the outcome names that record (`claim`), so a release whose import was killed in between is in
 * the log all the same (ferry audit verify reports such an import).
 */
/** the largest refused file whose own sha256 the record still carries (about a second of hashing) */
export const REFUSED_HASH_MAX = 1 << 30;

export async function recordAudit<T>(
  storeDir: string | undefined,
  command: AuditEvent['command'],
  bundle: string,
  run: (claiming: () => Promise<void>) => Promise<{ value: T; result: AuditEvent['result'] }>,
  seen: Seen,
): Promise<T> {
  if (!storeDir) return (await run(async () => {})).value;
  // a record that could not be written after an import would leave a release the log does not name
  await checkAuditAppendable(storeDir);
  // the file's own hash, read at the same time as the verify (on a worker thread, so on another core)
  // rather than in a second pass after it; a file that cannot be read (EACCES, EIO) has none: the reading
  // refuses it, and the refusal is recorded like any other
  const size = bundle === '-' ? undefined : await stat(bundle).then((st) => (st.isFile() ? st.size : undefined), () => undefined);
  const hashing = new AbortController();
  const fileHash = size !== undefined ? sha256File(bundle, hashing.signal).then((h) => h.sha256, () => null) : Promise.resolve(null);
  let outcome: { value: T; result: AuditEvent['result'] } | undefined;
  let failure: unknown;
  let claim: string | undefined;
  const event = (sha256: string | null, result: AuditEvent['result']): AuditEvent => ({
    command,
    bundle: { file: bundle, sha256 },
    digest: seen.digest ?? null,
    name: seen.name ?? null,
    version: seen.version ?? null,
    signers: seen.signers ?? [],
    policy: seen.policy ?? null,
    result,
  });
  const claiming = async () => {
    claim = await appendAuditRecord(storeDir, event(await fileHash, 'claiming'));
  };
  try {
    outcome = await run(claiming);
  } catch (err) {
    failure = err;
  }
  // a refusal is often made long before the end of the file (a terabyte hole after a bundle is refused after
  // 1 MiB of it): a large refused file's own hash is not waited for (it would take hours) nor recorded
  const unhashed = !outcome && size !== undefined && size > REFUSED_HASH_MAX;
  if (unhashed) hashing.abort();
  const sha256 = unhashed ? null : await fileHash;
  await appendAuditRecord(storeDir, {
    ...event(sha256, outcome ? outcome.result : 'refused'),
    ...(outcome ? {} : { reason: (failure as Error)?.message ?? String(failure), exitCode: failure instanceof FerryError ? failure.exitCode : 74 }),
    ...(claim !== undefined && { claim }),
    ...(seen.repaired?.length && { repaired: seen.repaired }),
  });
  if (!outcome) throw failure;
  return outcome.value;
}
