/** The shell's code for a program a signal stopped: 128 + the signal's number. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Ctrl-C or SIGTERM during a deploy or rollback: stop at once with one line and the shell's code for
 * that signal, instead of dying silently. Nothing is recorded for the stages that were running (a fact
 * is written only when a stage has finished); the hosts' holds and the commands ferry started there
 * end when the runner is gone, and the next run continues where the facts say.
 */
export function stopOnInterrupt(what: string): void {
  for (const signal of Object.keys(SIGNAL_EXIT) as Array<keyof typeof SIGNAL_EXIT>) {
    process.once(signal, () => {
      process.stderr.write(`ferry: interrupted by ${signal}: the ${what} stopped; stages that were running are not recorded done; run the same command again to continue\n`);
      process.exit(SIGNAL_EXIT[signal]);
    });
  }
}
