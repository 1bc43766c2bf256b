/** The shell's code for a program a signal stopped: 128 + the signal's number. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** What a deploy or rollback says when stopped. */
const DEPLOY_NOTE = 'stages that were running are not recorded done; run the same command again to continue';

/** What a command that writes files says: its scratch is removed at exit (util/holdScratch.ts). */
const WRITE_NOTE = 'what it had not finished writing is removed, every file it names is whole; run the same command again';

/**
 * Ctrl-C or SIGTERM: stop at once with one line and the shell's code for that signal, instead of dying
 * silently. Exiting (not dying by the signal) runs the exit hook that removes the scratch the command
 * holds (util/holdScratch.ts): temporary files and folders that have not taken their final names yet.
 *
 * For a deploy or rollback (`what` deploy or rollback): nothing is recorded for the stages that were
 * running (a fact is written only when a stage has finished); the hosts' holds and the commands ferry
 * started there end when the runner is gone, and the next run continues where the facts say.
 */
export function stopOnInterrupt(what: string): void {
  const note = what === 'deploy' || what === 'rollback' ? DEPLOY_NOTE : WRITE_NOTE;
  for (const signal of Object.keys(SIGNAL_EXIT) as Array<keyof typeof SIGNAL_EXIT>) {
    process.once(signal, () => {
      process.stderr.write(`ferry: interrupted by ${signal}: the ${what} stopped; ${note}\n`);
      process.exit(SIGNAL_EXIT[signal]);
    });
  }
}
