import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { DeployError } from '../../errors.js';
import { shellQuote } from '../../util/shellQuote.js';
import type { RunOptions } from './types.js';

/**
 * How a script reaches the host's shell: on standard input, never in a command line, because every
 * user of the runner and of the host can read command lines (`ps`, /proc/PID/cmdline) and scripts
 * carry a step's `env` values and rendered options (passwords).
 *
 * The command line is a fixed bootstrap: it reads exactly the script's byte count from stdin (GNU
 * `head -c` never reads past it), checks that the script arrived whole (a random end marker), and
 * runs it with `eval` in a subshell, so no process gets the script as an argument. The rest of stdin
 * (a file's content, a tar stream) is the script's own stdin. The script never exits 255: ssh reports
 * its own connection failures with 255, and those are retried.
 *
 * With `sessions` (a file on the host), the login shell first records its process group there (see
 * recordSession); the script still travels on stdin.
 */
export function scriptOnStdin(script: string, stdin?: RunOptions['stdin'], sessions?: string): { command: string; head: Buffer; stdin: NonNullable<RunOptions['stdin']> } {
  if (script.includes('\0')) throw new DeployError('refusing to send a script with a NUL character to the host: the shell cannot read it');
  const end = `#ferry-end-${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`${script}\n${end}\n`);
  const bootstrap = [
    `s=$(head -c ${head.length}) || exit 254`,
    `case $s in *"${end}") ;; *) echo "ferry: the script did not arrive whole" >&2; exit 254;; esac`,
    '(eval "$s"); rc=$?; if [ $rc -eq 255 ]; then rc=254; fi; exit $rc',
  ].join('\n');
  return { command: `${recordSession(sessions)}/bin/sh -c ${shellQuote(bootstrap)}`, head, stdin: prefixed(head, stdin) };
}

/**
 * sshd makes each session's shell the leader of its own process group; writing that group (with its
 * start time, so a reused pid is never mistaken for it) to the run's session file lets the host stop
 * the run's remote work when the runner is gone (see hostGuard.ts).
 */
function recordSession(sessions: string | undefined): string {
  if (!sessions) return '';
  return `echo "$$ $(cut -d' ' -f22 /proc/$$/stat 2>/dev/null)" >> ${shellQuote(sessions)} 2>/dev/null; `;
}

function prefixed(head: Buffer, rest: RunOptions['stdin']): NonNullable<RunOptions['stdin']> {
  if (rest === undefined) return head;
  if (typeof rest === 'string' || rest instanceof Uint8Array) return Buffer.concat([head, Buffer.from(rest)]);
  const out = new PassThrough();
  out.write(head);
  rest.on('error', (err) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  rest.pipe(out);
  return out;
}
