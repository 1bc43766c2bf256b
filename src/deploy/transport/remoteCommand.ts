import { shellQuote } from '../shellQuote.js';

/**
 * Linux refuses a single argument over 128 KiB, and the remote command is one argument of the
 * login shell; longer scripts are uploaded to a temporary file first.
 */
export const MAX_INLINE_SCRIPT = 96 * 1024;

/**
 * The command line given to the host's login shell: run the script with /bin/sh, and never let it
 * exit 255, because ssh reports its own connection failures with 255 and those are retried.
 */
export function remoteCommand(script: string): string {
  return `/bin/sh -c ${shellQuote(script)}; rc=$?; if [ $rc -eq 255 ]; then rc=254; fi; exit $rc`;
}

/** Run an uploaded script file, then remove it. */
export function remoteFileCommand(path: string): string {
  const q = shellQuote(path);
  return `/bin/sh ${q}; rc=$?; rm -f ${q}; if [ $rc -eq 255 ]; then rc=254; fi; exit $rc`;
}

export const UPLOAD_SCRIPT = 'umask 077; f=$(mktemp "${TMPDIR:-/tmp}/ferry-script.XXXXXX") && cat > "$f" && printf %s "$f"';
