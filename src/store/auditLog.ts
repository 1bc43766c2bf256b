import { join } from 'node:path';

/**
 * STORE/audit.log: one JSON object per line, appended, never rewritten. Each record carries `prev`, the
 * sha256 of the previous line's bytes (without its newline); the first record carries GENESIS. Removing,
 * editing or reordering a line breaks the chain at the line after it (see verifyAuditLog).
 */
export const GENESIS = '0'.repeat(64);

export const auditLogPath = (storeDir: string) => join(storeDir, 'audit.log');
export const auditLockPath = (storeDir: string) => join(storeDir, 'audit.log.lock');

export type AuditResult = 'verified' | 'imported' | 'already present' | 'refused';

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
}

export interface AuditRecord extends AuditEvent {
  time: string;
  operator: { user: string; host: string };
  prev: string;
}
