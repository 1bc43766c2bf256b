import { readFileSync } from 'node:fs';
import { isProcessAlive } from './isProcessAlive.js';

/**
 * A process as ferry writes it into pid files, lock files and names of work in progress: `PID.START`,
 * START being when it started (clock ticks since boot, field 22 of /proc/PID/stat), or `PID` alone where
 * /proc has no start time. A pid alone names whichever process the kernel gives that number next: after
 * a crash (or a reboot), a stale scratch folder or lock whose pid now belongs to another process looked
 * alive, and blocked gc's sweep or the audit log until someone removed it by hand.
 */
export function ownIdentity(): string {
  return (own ??= identityOf(process.pid));
}
let own: string | undefined;

function identityOf(pid: number): string {
  const start = processStart(pid);
  return start === undefined ? String(pid) : `${pid}.${start}`;
}

/** When the process with this pid started, in clock ticks since boot; undefined without /proc or such a process. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the command name (field 2) is in parentheses and may hold spaces and parentheses itself
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start !== undefined && /^\d+$/.test(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of an identity (`PID` or `PID.START`), or undefined when the text is neither. */
export function identityPid(identity: string): number | undefined {
  const m = /^(\d{1,10})(?:\.\d{1,20})?$/.exec(identity.trim());
  const pid = m ? Number(m[1]) : NaN;
  return pid > 0 ? pid : undefined;
}

/**
 * Whether the process an identity names still runs: its pid exists and, when the identity has a start
 * time that /proc can be asked about, the process with that pid started then. Where /proc cannot tell
 * (another user's process under hidepid), a live pid counts as the owner: never remove what may be in use.
 */
export function isIdentityAlive(identity: string): boolean {
  const pid = identityPid(identity);
  if (pid === undefined || !isProcessAlive(pid)) return false;
  const start = /\.(\d+)$/.exec(identity.trim())?.[1];
  if (start === undefined) return true;
  const now = processStart(pid);
  return now === undefined || now === start;
}
