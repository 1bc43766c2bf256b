import { join } from 'node:path';

/**
 * STORE/audit.log: one JSON object per line, appended, never rewritten. Each record carries `prev`, the
 * sha256 of the previous line's bytes (without its newline); the first record carries GENESIS. Removing,
 * editing or reordering a line breaks the chain at the line after it (see verifyAuditLog).
 */
export const GENESIS = '0'.repeat(64);

export const auditLogPath = (storeDir: string) => join(storeDir, 'audit.log');
export const auditLockPath = (storeDir: string) => join(storeDir, 'audit.log.lock');

/**
 * `claiming`: written by an import just before it creates its ref (the moment the release becomes visible),
 * so that an import killed between the ref and its outcome still leaves a line naming the release. The
 * outcome's record names that line in `claim`; a `claiming` line no later record names is an import that
 * stopped there (ferry audit verify reports it).
 */
export type AuditResult = 'verified' | 'imported' | 'already present' | 'refused' | 'claiming';

/** What one verify or import tells the log (time, operator and the chain are added on append). */
export interface AuditEvent {
  command: 'verify' | 'import';
  bundle: { file: string; sha256: string | null };
  digest: string | null;
  name: string | null;
  version: string | null;
  /** fingerprints of the signatures that counted */
  signers: string[];
  /** the signing policy's verdict, null without --policy */
  policy: { met: boolean; rule: string | null; detail: string } | null;
  result: AuditResult;
  /** for refused: the error's one-line message and exit code */
  reason?: string;
  exitCode?: number;
  /** on an import's outcome: the sha256 of its `claiming` line */
  claim?: string;
  /** on an import's outcome: blobs (their sha256) found damaged on disk and rewritten from the bundle's verified bytes */
  repaired?: string[];
}

export interface AuditRecord extends AuditEvent {
  time: string;
  operator: { user: string; host: string };
  prev: string;
}
