import { Command, CommanderError } from 'commander';
import { FerryError, InternalError } from '../errors.js';
import { VERSION } from '../version.js';
import { commands } from './commands.js';

/** Entry point: parse arguments, run one command, map errors to stable exit codes. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('ferry')
    .description('Carry software across an air gap: build signed, deterministic bundles; import, serve and deploy them.')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 64;
    if (err instanceof FerryError) {
      process.stderr.write(`ferry: ${err.message}\n`);
      return err.exitCode;
    }
    // a bug, not a failure ferry knows: its own code, and the stack for the report
    process.stderr.write(`ferry: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return new InternalError(String(err)).exitCode;
  }
}
