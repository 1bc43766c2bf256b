import { readFileSync, readlinkSync } from 'node:fs';
import { isProcessAlive } from './isProcessAlive.js';

/**
 * A process as ferry writes it into pid files, lock files and names of work in progress:
 * `PID.START.PIDNS`, START being when it started (clock ticks since boot, field 22 of /proc/PID/stat) and
 * PIDNS its pid namespace (the number of /proc/self/ns/pid); `PID` alone where /proc cannot tell (older
 * ferry wrote `PID.START`). A pid alone names whichever process the kernel gives that number next: after
 * a crash (or a reboot), a stale scratch folder or lock whose pid now belongs to another process looked
 * alive, and blocked gc's sweep or the audit log until someone removed it by hand. And a pid means
 * something only in its own namespace: two containers sharing a store, a cache or /tmp each number their
 * processes from 1, so without the namespace one judged the other's running import, build or audit
 * append dead by its pid and removed its work or broke its lock.
 */
export function ownIdentity(): string {
  return (own ??= identityOf(process.pid));
}
let own: string | undefined;

function identityOf(pid: number): string {
  const start = processStart(pid);
  const ns = ownPidNamespace();
  return start === undefined ? String(pid) : ns === undefined ? `${pid}.${start}` : `${pid}.${start}.${ns}`;
}

/** This process's pid namespace, as the number in `pid:[NUMBER]` of /proc/self/ns/pid; undefined without it. */
function ownPidNamespace(): string | undefined {
  if (ownNs === null) {
    try {
      ownNs = /^pid:\[(\d{1,20})\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
    } catch {
      ownNs = undefined;
    }
  }
  return ownNs;
}
let ownNs: string | undefined | null = null;

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

/** An identity as it appears in a name or a file: PID, then optionally .START and .PIDNS */
const IDENTITY_RE = /^(\d{1,10})(?:\.(\d{1,20})(?:\.(\d{1,20}))?)?$/;
/** The same, inside a longer name (a work folder's, a scratch folder's): the pattern of one capture group */
export const IDENTITY_PATTERN = '(\\d{1,10}(?:\\.\\d{1,20}(?:\\.\\d{1,20})?)?)';

/** The pid of an identity (`PID`, `PID.START` or `PID.START.PIDNS`), or undefined when the text is none of them. */
export function identityPid(identity: string): number | undefined {
  const m = IDENTITY_RE.exec(identity.trim());
  const pid = m ? Number(m[1]) : NaN;
  return pid > 0 ? pid : undefined;
}

/**
 * Whether the process an identity names still runs: its pid exists and, when the identity has a start
 * time that /proc can be asked about, the process with that pid started then. Where this process cannot
 * tell, the owner counts as alive: never remove what may be in use. That is so for another user's process
 * under hidepid, and for a process of another pid namespace (another container sharing the folder): its
 * pid means nothing here, so what it left stays until it is removed by hand or from its own namespace.
 */
export function isIdentityAlive(identity: string): boolean {
  const m = IDENTITY_RE.exec(identity.trim());
  if (!m) return false;
  const [, , start, ns] = m;
  if (ns !== undefined && ns !== ownPidNamespace()) return true;
  const pid = Number(m[1]);
  if (!(pid > 0) || !isProcessAlive(pid)) return false;
  if (start === undefined) return true;
  const now = processStart(pid);
  return now === undefined || now === start;
}
