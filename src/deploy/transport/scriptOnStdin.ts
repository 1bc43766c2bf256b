import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { DeployError } from '../../errors.js';
import { escapeText } from '../../util/escapeText.js';
import { shellQuote } from '../../util/shellQuote.js';
import type { HeldBy, RunOptions, RunResult } from './types.js';

/** What a command prints on stderr (then exits NOT_HELD_EXIT) when the run no longer holds the host's lock. */
const NOT_HELD = '@@ferry-not-held';
const NOT_HELD_EXIT = 253;

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
 * recordSession); the script still travels on stdin. With `held` (the run's hold on the host), it first
 * checks that the hold is still there (see checkHeld).
 */
export function scriptOnStdin(script: string, stdin?: RunOptions['stdin'], sessions?: string, held?: HeldBy, tag?: string): { command: string; head: Buffer; stdin: NonNullable<RunOptions['stdin']> } {
  if (script.includes('\0')) throw new DeployError('refusing to send a script with a NUL character to the host: the shell cannot read it');
  const end = `#ferry-end-${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`${script}\n${end}\n`);
  const bootstrap = [
    `s=$(head -c ${head.length}) || exit 254`,
    `case $s in *"${end}") ;; *) echo "ferry: the script did not arrive whole" >&2; exit 254;; esac`,
    '(eval "$s"); rc=$?; if [ $rc -eq 255 ]; then rc=254; fi; exit $rc',
  ].join('\n');
  return { command: `${recordSession(sessions, tag)}${checkHeld(held)}/bin/sh -c ${shellQuote(bootstrap)}`, head, stdin: prefixed(head, stdin) };
}

/**
 * sshd makes each session's shell the leader of its own process group; writing that group (with its
 * start time, so a reused pid is never mistaken for it) to the run's session file lets the host stop
 * the run's remote work when the runner is gone (see hostGuard.ts).
 */
function recordSession(sessions: string | undefined, tag: string | undefined): string {
  if (!sessions) return '';
  return `echo "$$ $(cut -d' ' -f22 /proc/$$/stat 2>/dev/null)${tag ? ` ${tag}` : ''}" >> ${shellQuote(sessions)} 2>/dev/null; `;
}

/**
 * Shell that stops the session recorded with `tag` (see recordSession): its process group, as the end of a
 * hold stops them all (TERM, then KILL after 5 s). For one command the runner gave up on (it ran past its
 * time): over a shared connection, killing the ssh client that started it leaves it running on the host.
 */
export function stopSessionScript(sessions: string, tag: string): string {
  return [
    `s=${shellQuote(sessions)}`,
    '[ -s "$s" ] || exit 0',
    'while read -r pg st t; do',
    `  [ "$t" = ${shellQuote(tag)} ] && [ -n "$pg" ] || continue`,
    '  cur=$(cut -d" " -f22 /proc/$pg/stat 2>/dev/null) || continue',
    '  [ "$cur" = "$st" ] || continue',
    '  kill -s TERM -- "-$pg" 2>/dev/null || continue',
    '  i=0; while kill -0 -- "-$pg" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
    '  kill -s KILL -- "-$pg" 2>/dev/null || true',
    'done < "$s"',
  ].join('\n');
}

/**
 * The hold that locks the host for the run (hostGuard.ts) is one command, over ssh the master connection.
 * When it ends before the run does (the connection dropped, the process killed), the host has released
 * the lock and stopped the run's commands; a command the runner sends after that (a retry, over a new
 * connection) would run on a host nobody holds, or that another run holds by now. So every command first
 * checks, on the host, that the lock is taken and that this run's holder line is the one written there.
 * It does so after it recorded its session, and the hold removes the holder line before it stops the
 * recorded sessions: a command that passed the check while the hold was ending is stopped with the rest.
 */
function checkHeld(held: HeldBy | undefined): string {
  if (!held) return '';
  return (
    `h=$(cat ${shellQuote(held.holderFile)} 2>/dev/null); ` +
    `if [ "$h" != ${shellQuote(held.holder)} ] || flock -n ${shellQuote(held.lock)} true 2>/dev/null; then echo "${NOT_HELD} $h" >&2; exit ${NOT_HELD_EXIT}; fi; `
  );
}

/**
 * The error for a command the host refused because the run no longer holds it (see checkHeld): not worth
 * a retry, the host is out of this run. Undefined for any other result.
 */
export function notHeldError(where: string, r: Pick<RunResult, 'code' | 'stderr'>): DeployError | undefined {
  if (r.code !== NOT_HELD_EXIT) return undefined;
  const line = r.stderr.split('\n').find((l) => l.startsWith(NOT_HELD));
  if (line === undefined) return undefined;
  const now = line.slice(NOT_HELD.length).trim();
  return new DeployError(
    `${where}: ferry no longer holds this host for the run (the connection that held its lock dropped, or its hold ended)${now ? `; it is now held by ${escapeText(now)}` : ''}: nothing more runs there in this run; run the same command again`,
  );
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
