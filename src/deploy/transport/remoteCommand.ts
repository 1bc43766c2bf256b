import { shellQuote } from '../shellQuote.js';

/**
 * Linux refuses a single argument over 128 KiB, and the remote command is one argument of the
 * login shell; longer scripts are uploaded to a temporary file first.
 */
export const MAX_INLINE_SCRIPT = 96 * 1024;

/**
 * sshd makes each session's shell the leader of its own process group; writing that group (with its
 * start time, so a reused pid is never mistaken for it) to the run's session file lets the host stop
 * the run's remote work when the runner is gone (see hostGuard.ts).
 */
function register(sessions: string | undefined): string {
  if (!sessions) return '';
  return `echo "$$ $(cut -d' ' -f22 /proc/$$/stat 2>/dev/null)" >> ${shellQuote(sessions)} 2>/dev/null; `;
}

/**
 * The command line given to the host's login shell: run the script with /bin/sh, and never let it
 * exit 255, because ssh reports its own connection failures with 255 and those are retried.
 */
export function remoteCommand(script: string, sessions?: string): string {
  return `${register(sessions)}/bin/sh -c ${shellQuote(script)}; rc=$?; if [ $rc -eq 255 ]; then rc=254; fi; exit $rc`;
}

/** Run an uploaded script file, then remove it. */
export function remoteFileCommand(path: string, sessions?: string): string {
  const q = shellQuote(path);
  return `${register(sessions)}/bin/sh ${q}; rc=$?; rm -f ${q}; if [ $rc -eq 255 ]; then rc=254; fi; exit $rc`;
}

export const UPLOAD_SCRIPT = 'umask 077; f=$(mktemp "${TMPDIR:-/tmp}/ferry-script.XXXXXX") && cat > "$f" && printf %s "$f"';
