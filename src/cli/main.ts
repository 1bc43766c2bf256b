import { Command, CommanderError } from 'commander';
import { FerryError } from '../errors.js';
import { VERSION } from '../version.js';
import { commands } from './commands.js';
import { escapeText } from '../util/escapeText.js';

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
      // messages quote bundle, inventory and host strings: nothing in them may drive the terminal
      process.stderr.write(`ferry: ${escapeText(err.message, { keepNewlines: true })}\n`);
      return err.exitCode;
    }
    process.stderr.write(`ferry: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 70;
  }
}
