import { Command, CommanderError } from '../util/commander.js';
import { FerryError, FetchError, InternalError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerCommands } from './commands.js';
import { escapeText } from '../util/escapeText.js';

/** Exit code of an error that is a bug in ferry (or in a library it uses), not a kind of failure: its own, not 70 (resolution) nor 1. */
const INTERNAL_ERROR_EXIT = new InternalError('').exitCode;

/** Exit code of an error the HTTP client throws outside any call (see catchStrayErrors): FetchError's. */
const FETCH_FAILED_EXIT = new FetchError('').exitCode;

/** Entry point: parse arguments, run one command, map errors to stable exit codes. */
export async function main(argv: string[]): Promise<number> {
  catchStrayErrors();
  stopQuietlyOnClosedOutput();
  const program = new Command('ferry')
    .description('Carry software across an air gap: build signed, deterministic bundles; import, serve and deploy them.')
    .version(VERSION)
    // a usage error is one line like every other refusal (exit 64), not the command's whole help after it;
    // commander puts its "(Did you mean …?)" on a line of its own, and quotes the arguments as given (escaped)
    .configureOutput({ outputError: (text, write) => write(`ferry: ${escapeText(text.replace(/^error: /, '').trim().replace(/\n(?=\(Did you mean )/, ' '))} (--help lists the options)\n`) })
    .exitOverride();
  const unfinished = refuseUnfinishedExit();
  try {
    await registerCommands(program, argv.slice(2));
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 64;
    if (err instanceof FerryError) {
      // messages quote bundle, inventory, lock and host strings: nothing in them may drive the terminal, and
      // a refusal is exactly one line, so none can add a line of its own ("ferry: deploy complete") below
      // it. Messages are built as one line (util/oneLine.ts); a newline that still reaches here shows as \n.
      process.stderr.write(`ferry: ${escapeText(err.message)}\n`);
      return err.exitCode;
    }
    process.stderr.write(`ferry: internal error: ${errorText(err)}. This is a bug in ferry; ${debugHint(err)}\n`);
    return INTERNAL_ERROR_EXIT;
  } finally {
    process.removeListener('beforeExit', unfinished);
  }
}

/**
 * Node ends a process whose event loop is empty with exit 0, even while a command still awaits a promise
 * that nothing can settle any more (a wait on a stream or child that already ended): the work would be
 * left undone and reported as done. 'beforeExit' comes only then (never after process.exit()), so until
 * the command returns it is an internal error: one line, exit 74.
 */
function refuseUnfinishedExit(): () => void {
  const listener = (): void => {
    process.stderr.write('ferry: internal error: the command stopped with its work unfinished (it waited for something that had already ended). This is a bug in ferry; run again with FERRY_DEBUG=1 and report it\n');
    process.exitCode = INTERNAL_ERROR_EXIT;
  };
  process.once('beforeExit', listener);
  return listener;
}

/**
 * No command may end with a raw stack trace. Errors thrown from event handlers, outside any promise a
 * command awaits, reach the process instead. undici 7's HTTP/1 parser does that when a server closes a
 * connection at the wrong moment (issue 5360, see fetch/finishBodiesUnpaused.ts): that is a failed
 * download, exit 69. Anything else is a bug, like an unexpected error inside a command. Either way:
 * one line, and the stack only with FERRY_DEBUG=1.
 */
function catchStrayErrors(): void {
  if (process.listenerCount('uncaughtException') > 0) return;
  const stray = (err: unknown) => {
    const fromHttpClient = /[\\/]undici[\\/]/.test((err as Error)?.stack ?? '');
    process.stderr.write(
      fromHttpClient
        ? `ferry: an upstream download failed inside the HTTP client (${errorText(err)}). Run the command again ` +
            `(downloads that completed stay in the cache). If it happens again, ${debugHint(err)}\n`
        : `ferry: internal error: ${errorText(err)}. This is a bug in ferry; ${debugHint(err)}\n`,
    );
    process.exit(fromHttpClient ? FETCH_FAILED_EXIT : INTERNAL_ERROR_EXIT);
  };
  process.on('uncaughtException', stray);
  process.on('unhandledRejection', stray);
}

/** Exit code when the reader of ferry's output went away: a program killed by SIGPIPE, 128 + 13, as the shell reports it. */
const BROKEN_PIPE_EXIT = 141;

/**
 * `ferry list | head -1`: once the reader has gone, writing to stdout fails with EPIPE. Like a program the
 * kernel's SIGPIPE stops (Node ignores that signal), ferry stops there without a word, instead of
 * reporting its own output's end as an internal error.
 */
function stopQuietlyOnClosedOutput(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(BROKEN_PIPE_EXIT);
    throw err;
  });
}

/** An unexpected error as one line: its class name and message, whitespace (newlines too) folded to single spaces. */
function errorText(err: unknown): string {
  const e = err as { name?: string; message?: string };
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(err);
  return text.replace(/\s+/g, ' ').trim();
}

function debugHint(err: unknown): string {
  if (process.env.FERRY_DEBUG) return `the stack follows.\n${(err as Error)?.stack ?? String(err)}`;
  return 'run with FERRY_DEBUG=1 for the stack.';
}
